import { z } from 'zod';
import { LEAKED_KEY_POLICIES } from '../domain';

/**
 * GitHub's secret-scanning report: a JSON array of matches. Only `token` is needed; GitHub
 * documents `url` as possibly empty, so absent or null text fields read as ''. Fields GitHub
 * may add later are ignored.
 */
export const gitHubMatchSchema = z
  .object({
    token: z.string().describe('What matched our pattern'),
    type: z
      .string()
      .max(256)
      .nullish()
      .transform((v) => v ?? '')
      .describe('The name of our pattern at GitHub'),
    url: z
      .string()
      .max(8192)
      .nullish()
      .transform((v) => v ?? '')
      .describe('Where it was found (may be empty)'),
    source: z
      .string()
      .max(256)
      .nullish()
      .transform((v) => v ?? '')
      .describe('What kind of place: content, commit, npm, …'),
  })
  .loose();
export type GitHubMatch = z.output<typeof gitHubMatchSchema>;

export const gitHubReportSchema = z.array(gitHubMatchSchema);

export const leakedKeyPolicySchema = z
  .enum(LEAKED_KEY_POLICIES)
  .describe('revoke: a key found in public is revoked at once (the default); notify: it keeps working, marked exposed');

export const updateKeySettingsSchema = z.object({ leakedKeyPolicy: leakedKeyPolicySchema });
