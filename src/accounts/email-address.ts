/** The one spelling of an address Latchkey stores and compares: trimmed and lower-cased. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** RFC 5321's limits (64 for the local part, 254 overall, rounded up); no attempt at full RFC 5322. */
const PLAUSIBLE_EMAIL = /^[^\s@]{1,64}@[^\s@]{1,255}$/;
export const MAX_EMAIL_LENGTH = 320;

export function isPlausibleEmail(email: string): boolean {
  return PLAUSIBLE_EMAIL.test(email);
}

/** What a form's email field means: normalized, and cut to a length no real address exceeds. */
export function emailFromForm(value: string | null | undefined): string {
  return normalizeEmail(value ?? '').slice(0, MAX_EMAIL_LENGTH);
}
