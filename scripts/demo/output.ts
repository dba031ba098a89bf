// What the demo prints of its own: headings, the runner's annotations as they come, the closing table of the scenarios.
import { cut } from './terminal';

export function say(text: string): void {
  process.stdout.write(`\n\x1b[1m${text}\x1b[0m\n`);
}

/** An annotation the bundle printed, decoded as the runner shows it: "notice: …". */
export function annotation(line: string): string | null {
  const match = /^::(notice|warning|error)::(.*)$/.exec(line);
  return match ? `${match[1]}: ${match[2]!.replaceAll('%0D', '').replaceAll('%0A', ' ').replaceAll('%25', '%')}` : null;
}

/** What each scenario did, for the closing table. */
export interface Story {
  scenario: string;
  version: string;
  verdict: string;
  outcome: string;
  ms: number;
}
export const stories: Story[] = [];

/** The closing table: one row per scenario, from `stories`. */
export function printStories(): void {
  say('What happened');
  console.log(
    `    ${'scenario'.padEnd(48)}  ${'version'.padEnd(15)}  ${'verdict'.padEnd(8)}  ${'outcome'.padEnd(40)}  time`,
  );
  for (const story of stories)
    console.log(
      `    ${cut(story.scenario, 48).padEnd(48)}  ${story.version.padEnd(15)}  ${story.verdict.padEnd(8)}  ` +
        `${cut(story.outcome, 40).padEnd(40)}  ${(story.ms / 1000).toFixed(1)} s`,
    );
}
