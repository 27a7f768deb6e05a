/** `--name <number>` from the command line, or `fallback`; anything but a finite number stops the bench with its name. */
export function numberArg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const value = Number(process.argv[i + 1]);
  if (process.argv[i + 1] === undefined || process.argv[i + 1] === '' || !Number.isFinite(value)) {
    throw new Error(`--${name} needs a number, got ${JSON.stringify(process.argv[i + 1] ?? '')}`);
  }
  return value;
}
