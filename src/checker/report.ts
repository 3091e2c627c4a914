// Renders a checker scorecard as text (terminal), JSON (tools) or JUnit XML (CI test reports).
import type { CheckResult, CheckStatus, Scorecard } from './types';

const LABEL: Record<CheckStatus, string> = {
  pass: 'PASS',
  fail: 'FAIL',
  warn: 'WARN',
  skip: 'SKIP',
};

/**
 * The human scorecard: one line per check; for failures and warnings what was sent, what came
 * back, why it matters and how to fix it; skipped checks summarised; then the total.
 */
export function formatText(card: Scorecard): string {
  const lines: string[] = [
    `Conformance check of ${card.url}${card.stateAware ? ' (state-aware)' : ''}`,
    '',
  ];
  let group = '';
  const skipped: CheckResult[] = [];
  for (const result of card.results) {
    if (result.status === 'skip') {
      skipped.push(result);
      continue;
    }
    if (result.group !== group) {
      group = result.group;
      lines.push(`${group}`);
    }
    lines.push(`  ${LABEL[result.status]}  ${result.id}  ${result.title}`);
    if (result.status === 'pass') continue;
    lines.push(`        sent:     ${result.sent}`);
    lines.push(`        received: ${result.received}`);
    if (result.detail) lines.push(`        problem:  ${result.detail}`);
    lines.push(`        why:      ${result.why}`);
    lines.push(`        fix:      ${result.fix}`);
  }
  if (skipped.length > 0) {
    const reasons = new Map<string, number>();
    for (const result of skipped) {
      const reason = result.detail ?? 'skipped';
      reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
    }
    lines.push(
      '',
      ...[...reasons].map(
        ([reason, count]) => `  SKIP  ${count} check${count === 1 ? '' : 's'}: ${reason}`,
      ),
    );
  }
  const { pass, fail, warn, skip } = card.totals;
  lines.push(
    '',
    `${card.cancelled ? 'CANCELLED' : card.ok ? 'OK' : 'FAILED'}: ${pass} passed, ${fail} failed, ${warn} warned, ${skip} skipped; ` +
      `score ${card.score}% (${(card.durationMs / 1000).toFixed(1)} s)`,
  );
  return `${lines.join('\n')}\n`;
}

/** The scorecard as a JSON document (the same object runChecks returns). */
export function formatJson(card: Scorecard): string {
  return `${JSON.stringify(card, null, 2)}\n`;
}

/** XML-escapes text, and drops characters XML 1.0 cannot carry at all. */
function xml(text: string): string {
  return (
    text
      // eslint-disable-next-line no-control-regex -- these are the control characters XML allows
      .replace(/[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '')
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
  );
}

/**
 * JUnit XML, one testsuite per group and one testcase per check: CI systems show failures with
 * their message; warnings pass and are noted in system-out.
 */
export function formatJunit(card: Scorecard): string {
  const groups = new Map<string, CheckResult[]>();
  for (const result of card.results)
    groups.set(result.group, [...(groups.get(result.group) ?? []), result]);
  const suites = [...groups].map(([group, results]) => {
    const count = (status: CheckStatus) => results.filter((r) => r.status === status).length;
    const seconds = results.reduce((sum, r) => sum + r.durationMs, 0) / 1000;
    const cases = results.map((r) => {
      const open = `    <testcase classname="heap-partner-api.check.${xml(group)}" name="${xml(`${r.id}: ${r.title}`)}" time="${(r.durationMs / 1000).toFixed(3)}">`;
      const text = `sent: ${r.sent}\nreceived: ${r.received}${r.detail ? `\nproblem: ${r.detail}` : ''}\nwhy: ${r.why}\nfix: ${r.fix}`;
      if (r.status === 'fail') {
        return `${open}\n      <failure message="${xml(r.detail ?? r.received)}">${xml(text)}</failure>\n    </testcase>`;
      }
      if (r.status === 'skip')
        return `${open}\n      <skipped message="${xml(r.detail ?? '')}"/>\n    </testcase>`;
      if (r.status === 'warn')
        return `${open}\n      <system-out>${xml(`WARNING\n${text}`)}</system-out>\n    </testcase>`;
      return `${open}</testcase>`;
    });
    return (
      `  <testsuite name="${xml(group)}" tests="${results.length}" failures="${count('fail')}" errors="0" ` +
      `skipped="${count('skip')}" time="${seconds.toFixed(3)}" timestamp="${xml(card.startedAt.replace(/Z$/, ''))}">\n` +
      `${cases.join('\n')}\n  </testsuite>`
    );
  });
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<testsuites name="${xml(`heap-partner-api check ${card.url}`)}" tests="${card.results.length}" ` +
    `failures="${card.totals.fail}" errors="0" skipped="${card.totals.skip}" time="${(card.durationMs / 1000).toFixed(3)}">\n` +
    `${suites.join('\n')}\n</testsuites>\n`
  );
}
