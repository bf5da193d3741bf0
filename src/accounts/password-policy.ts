/**
 * NIST SP 800-63B: length is what matters; no composition rules, no truncation. The email itself is
 * refused. (The list of breached passwords joins this with the sign-in screens.)
 */
export interface PasswordPolicy {
  minLength: number;
  maxLength: number;
}

export const DEFAULT_PASSWORD_POLICY: PasswordPolicy = { minLength: 12, maxLength: 128 };

export function passwordProblem(password: string, email: string, policy: PasswordPolicy = DEFAULT_PASSWORD_POLICY): string | undefined {
  const length = [...password].length;
  if (length < policy.minLength) return `Use at least ${policy.minLength} characters.`;
  if (length > policy.maxLength) return `Use at most ${policy.maxLength} characters.`;
  if (password.trim().toLowerCase() === email.trim().toLowerCase()) return 'Your password cannot be your email address.';
  return undefined;
}
