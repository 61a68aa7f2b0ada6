/** Reads raw config values; `undefined` when a key is not set. Structured values come as JSON text. */
export interface ConfigSource {
  get(key: string): string | undefined;
  /** Whether the secret `sshPrivateKey` is set (its value is never read here). */
  hasSshPrivateKey: boolean;
  stackName: string;
  namespace: string;
}

export class ConfigErrors {
  private readonly messages: string[] = [];
  constructor(private readonly namespace: string) {}

  add(key: string, value: unknown, expected: string): void {
    const shown = value === undefined ? "(not set)" : JSON.stringify(value);
    const fullKey = key.includes(":") ? key : `${this.namespace}:${key}`;
    this.messages.push(`${fullKey} = ${shown}: expected ${expected}`);
  }

  throwIfAny(): void {
    if (this.messages.length > 0) {
      throw new Error(`Invalid stack configuration:\n  - ${this.messages.join("\n  - ")}`);
    }
  }
}

export function parseJson(source: ConfigSource, key: string, errors: ConfigErrors, expected: string): unknown {
  const raw = source.get(key);
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    errors.add(key, raw, expected);
    return undefined;
  }
}
