// The CLI's progress line: drawn and redrawn in place on a terminal, nothing at all elsewhere.
import { createProgress } from '../../src/cli/progress';

const ERASE = '\r\x1b[2K';

function stream(isTTY: boolean) {
  const writes: string[] = [];
  return { isTTY, writes, write: (text: string) => writes.push(text) };
}

describe('not a terminal (a pipe, a log file, CI)', () => {
  test('updates and finish write nothing; lines are written as they are', () => {
    const out = stream(false);
    const progress = createProgress(out, 'backup', 'pages');
    const printed: string[] = [];

    progress.update(10, 100);
    progress.line(() => printed.push('page 1: 200 OK'));
    progress.update(100, 100);
    progress.finish();

    expect(out.writes).toEqual([]);
    expect(printed).toEqual(['page 1: 200 OK']);
  });

  test('a stream without isTTY counts as not a terminal', () => {
    const writes: string[] = [];
    const progress = createProgress(
      { write: (text: string) => writes.push(text) },
      'send',
      'pages',
    );

    progress.update(1, 2);

    expect(writes).toEqual([]);
  });
});

describe('a terminal', () => {
  test('draws done/total with the percentage, redrawing the same line in place', () => {
    const out = stream(true);
    const progress = createProgress(out, 'backup', 'pages');

    progress.update(0, 4800);
    progress.update(1200, 4800);

    expect(out.writes).toEqual([
      `${ERASE}backup 0/4,800 pages (0%)`,
      `${ERASE}backup 1,200/4,800 pages (25%)`,
    ]);
  });

  test('redraws only when the whole percentage, the total or the detail changes', () => {
    const out = stream(true);
    const progress = createProgress(out, 'backup', 'pages');

    for (let done = 0; done <= 100_000; done += 10) progress.update(done, 100_000);
    const afterCopy = out.writes.length;
    progress.update(100_000, 100_000);
    progress.update(10, 20);

    expect(afterCopy).toBe(101);
    expect(out.writes.slice(afterCopy)).toEqual([`${ERASE}backup 10/20 pages (50%)`]);
  });

  test('a detail names the unit under way', () => {
    const out = stream(true);
    const progress = createProgress(out, 'migrate', 'migrations');

    progress.update(0, 2, 'applying 004_variants');
    progress.update(1, 2, 'applying 004_audit_log');

    expect(out.writes).toEqual([
      `${ERASE}migrate 0/2 migrations (0%) applying 004_variants`,
      `${ERASE}migrate 1/2 migrations (50%) applying 004_audit_log`,
    ]);
  });

  test('a line printed meanwhile goes on a clean line, then the progress comes back under it', () => {
    const out = stream(true);
    const progress = createProgress(out, 'send', 'pages');

    progress.update(3, 10);
    progress.line(() => out.write('page 4/10: 200 OK\n'));

    expect(out.writes).toEqual([
      `${ERASE}send 3/10 pages (30%)`,
      ERASE,
      'page 4/10: 200 OK\n',
      `${ERASE}send 3/10 pages (30%)`,
    ]);
  });

  test('finish erases the line, once, so the result starts on a clean line', () => {
    const out = stream(true);
    const progress = createProgress(out, 'backup', 'pages');

    progress.finish();
    progress.update(5, 5);
    progress.finish();
    progress.finish();

    expect(out.writes).toEqual([`${ERASE}backup 5/5 pages (100%)`, ERASE]);
  });
});
