// The build scripts' own flags: `--flag value` pairs (the scripts take few, no library needed).

/** The value after `flag`, undefined when the flag is absent; an error when it has no value. */
export function flagValue(argv: readonly string[], flag: string): string | undefined {
  const at = argv.indexOf(flag);
  if (at === -1) return undefined;
  const next = argv[at + 1];
  if (!next || next.startsWith("--")) throw new Error(`${flag} needs a value`);
  return next;
}
