import type { RunningAzurite } from '../../local/azurite';

export default async function globalTeardown(): Promise<void> {
  await (globalThis as { __azurite?: RunningAzurite }).__azurite?.stop();
}
