import { withoutDefaultIgnorables } from '../text/visible-text';

/**
 * Labels are unique among a customer's active keys, compared without case, Unicode-form
 * differences or default-ignorable code points (a label without any compares as it always did).
 */
export const normalizeLabel = (label: string): string => withoutDefaultIgnorables(label).trim().normalize('NFKC').toLowerCase();
