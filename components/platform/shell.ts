/** Shell-quotes a value for the remote commands. */
export const quote = (value: string): string => `'${value.replace(/'/g, `'\\''`)}'`;

/** A script run over SSH with its inputs prepended as shell variables (sshd rarely accepts environment variables). */
export function scriptWithInputs(script: string, inputs: Record<string, string>): string {
  return `${Object.entries(inputs).map(([key, value]) => `${key}=${quote(value)}`).join("\n")}\n${script}`;
}
