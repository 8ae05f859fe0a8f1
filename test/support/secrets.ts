import { hashSecret } from '../../shared/keys/compound-key';

/** A whole compound key anywhere in text. */
export const COMPOUND_KEY_PATTERN = /vp_cust_[a-z0-9-]{2,32}\.[A-Za-z0-9]{32}\.[A-Za-z0-9_-]{43}/g;

const secrets = new Set<string>();
const chunks: string[] = [];
let started = false;

/** Registers a full key (or a bare secret): it, its secret segment and the secret's hash must never be logged. */
export function trackSecret(keyOrSecret: string): string {
  const secret = keyOrSecret.includes('.') ? keyOrSecret.split('.').at(-1)! : keyOrSecret;
  secrets.add(keyOrSecret);
  secrets.add(secret);
  secrets.add(hashSecret(secret));
  return keyOrSecret;
}

export function trackedSecrets(): string[] {
  return [...secrets];
}

/** Adds text produced elsewhere (a child process) to what is checked. */
export function recordOutput(text: string): void {
  chunks.push(text);
}

export function capturedText(): string {
  return chunks.join('\n');
}

/** Tees console and the standard streams into the capture (output still reaches the terminal). */
export function startCapture(): void {
  if (started) return;
  started = true;
  for (const method of ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const) {
    const original = console[method].bind(console);
    console[method] = (...args: unknown[]) => {
      chunks.push(args.map((a) => (typeof a === 'string' ? a : safeJson(a))).join(' '));
      if (process.env.TEST_VERBOSE) original(...args);
    };
  }
  for (const stream of [process.stdout, process.stderr]) {
    const original = stream.write.bind(stream) as (...args: unknown[]) => boolean;
    stream.write = (chunk: unknown, ...rest: unknown[]) => {
      chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
      return original(chunk, ...rest);
    };
  }
}

function safeJson(value: unknown): string {
  try {
    return value instanceof Error ? `${value.name}: ${value.message}\n${value.stack ?? ''}` : JSON.stringify(value);
  } catch {
    return String(value);
  }
}
