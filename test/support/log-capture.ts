/**
 * Captures every line the code under test logs (console, stdout, stderr, and whatever the
 * tests feed in from child processes) and, after each test file, asserts that no issued key,
 * secret or secret hash appears in it. Tests register what they issue with `trackSecret`.
 */
import { capturedText, trackedSecrets, COMPOUND_KEY_PATTERN, startCapture } from './secrets';

startCapture();

afterAll(() => {
  const text = capturedText();
  const leaks: string[] = [];
  for (const secret of trackedSecrets()) if (text.includes(secret)) leaks.push(`${secret.slice(0, 6)}… (${secret.length} chars)`);
  const compound = text.match(COMPOUND_KEY_PATTERN);
  if (compound) leaks.push(`${compound.length} full compound key(s)`);
  if (leaks.length > 0) throw new Error(`Secrets appeared in log output: ${leaks.join(', ')}`);
});
