// One progress line for long CLI operations (backup, big sends, migrations), redrawn in place on a terminal only.

/** Where progress goes: process.stderr, or a stand-in with the same two members in tests. */
export type ProgressStream = {
  isTTY?: boolean;
  write(text: string): unknown;
};

export type Progress = {
  /** `done` of `total` units are finished; `detail` names the one under way (a migration). */
  update(done: number, total: number, detail?: string): void;
  /** Writes a line of output without leaving the progress line mangled under it. */
  line(write: () => void): void;
  /** Erases the progress line: what the command prints next starts on a clean line. */
  finish(): void;
};

// \r back to column 0, then erase the whole line (ECMA-48 EL 2).
const ERASE_LINE = '\r\x1b[2K';

/**
 * Progress for `label` counted in `unit` ("pages"): "label 120/480 pages (25%)". Drawn only when
 * the stream is a terminal, so logs, pipes and CI output get none of it (the command's own
 * result line is what they keep); redrawn only when the whole percentage, the total or the detail changes,
 * so a million updates cost a hundred writes.
 */
export function createProgress(stream: ProgressStream, label: string, unit: string): Progress {
  if (!stream.isTTY) {
    return { update: () => undefined, line: (write) => write(), finish: () => undefined };
  }
  let shown = '';
  let text = '';
  let drawn = false;
  const draw = () => {
    stream.write(`${ERASE_LINE}${text}`);
    drawn = true;
  };
  const erase = () => {
    if (drawn) stream.write(ERASE_LINE);
    drawn = false;
  };
  return {
    update(done, total, detail) {
      const percent = total > 0 ? Math.floor((Math.min(done, total) / total) * 100) : 100;
      const key = `${percent}/${total}/${detail ?? ''}`;
      if (key === shown) return;
      shown = key;
      const count = (n: number) => n.toLocaleString('en-US');
      text =
        `${label} ${count(done)}/${count(total)} ${unit} (${percent}%)` +
        (detail ? ` ${detail}` : '');
      draw();
    },
    line(write) {
      const redraw = drawn;
      erase();
      write();
      if (redraw) draw();
    },
    finish: erase,
  };
}
