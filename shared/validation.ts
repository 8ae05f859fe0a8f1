import type { z } from 'zod';
import { ApiError } from './errors';

/** One field-level problem, as returned in a `validation_failed` body. */
export interface FieldError {
  path: string;
  message: string;
}

/**
 * Parses input with a zod schema; a failure becomes a 400 `validation_failed` that lists
 * each bad field. The offending values are not echoed back.
 */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, what = 'request'): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const errors: FieldError[] = result.error.issues.map((issue) => ({
    path: issue.path.map(String).join('.') || '(root)',
    message: issue.message,
  }));
  const summary = errors.map((e) => `${e.path}: ${e.message}`).join('; ');
  throw new ApiError('validation_failed', `The ${what} is not valid: ${summary}`, { extensions: { errors } });
}
