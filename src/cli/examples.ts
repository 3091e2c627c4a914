// Renders --help examples as copy-pasteable command lines, each followed by what it does.
/**
 * [arguments, what they do, environment to set first]; the command that precedes the arguments
 * is supplied when rendering.
 */
export type Example = [string, string] | [string, string, string];

/**
 * An "Examples:" block for a yargs epilogue. Not yargs's .example(): its two-column layout breaks
 * long commands mid-line, so they could no longer be copied and pasted.
 */
export function examplesBlock(command: string, examples: Example[]): string {
  const lines = examples.map(
    ([args, what, env]) =>
      `  ${env ? `${env} ` : ''}${command} ${args}`.trimEnd() + `\n      ${what}`,
  );
  return `Examples:\n${lines.join('\n')}`;
}
