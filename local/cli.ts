/** A wrong command line: the usage follows the message, exit 2. */
export class UsageError extends Error {}

/** What a command prints when it fails, and its exit code: 2 with its usage after a wrong command line, 1 otherwise. */
export function commandFailed(command: string, err: unknown, usage: string, print: (line: string) => void): number {
  print(`${command}: ${(err as Error).message}`);
  if (err instanceof UsageError) {
    print(usage);
    return 2;
  }
  return 1;
}
