import { normalizeEmail } from './email-address.ts';
import { dictionary } from '@zxcvbn-ts/language-common';

/**
 * NIST SP 800-63B: length is what counts. At least 12 characters (configurable), up to 128 accepted
 * (never truncated: argon2 hashes all of it), no composition rules. Refused: passwords on the list of
 * common and breached passwords, the email or its name part, and trivial patterns (one character
 * repeated, a keyboard or number sequence). The list is the 49,233 most common passwords of public
 * breach corpora that ships with zxcvbn-ts (`@zxcvbn-ts/language-common`): no network at run time.
 */
export interface PasswordPolicy {
  minLength: number;
  maxLength: number;
}

/** The longest password accepted, everywhere (web and CLI): far past any passphrase, short of a denial of service. */
export const MAX_PASSWORD_LENGTH = 128;

export const DEFAULT_PASSWORD_POLICY: PasswordPolicy = { minLength: 12, maxLength: MAX_PASSWORD_LENGTH };

/** The policy of this deployment: its configured minimum (PASSWORD_MIN_LENGTH), the one maximum. */
export function passwordPolicy(settings: { minLength: number }): PasswordPolicy {
  return { minLength: settings.minLength, maxLength: MAX_PASSWORD_LENGTH };
}

let common: Set<string> | undefined;
/** Built on first use (about 30 ms), not at start-up. */
function commonPasswords(): Set<string> {
  common ??= new Set(dictionary['passwords-common'].map((password) => password.toLowerCase()));
  return common;
}

export const COMMON_PASSWORD_COUNT = () => commonPasswords().size;

const SEQUENCES = [
  'abcdefghijklmnopqrstuvwxyz',
  '0123456789012345678901234567890',
  'qwertyuiopasdfghjklzxcvbnm',
  '1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p',
];

function isTrivial(password: string): boolean {
  const lower = password.toLowerCase();
  if (new Set(lower).size <= 2) return true;
  return SEQUENCES.some((sequence) => sequence.includes(lower) || [...sequence].reverse().join('').includes(lower));
}

/** Why a password is refused, in words for the person choosing it; undefined when it is acceptable. */
export function passwordProblem(
  password: string,
  email: string,
  policy: PasswordPolicy = DEFAULT_PASSWORD_POLICY,
): string | undefined {
  const length = [...password].length;
  if (length < policy.minLength) return `Use at least ${policy.minLength} characters.`;
  if (length > policy.maxLength) return `Use at most ${policy.maxLength} characters.`;
  const lower = password.trim().toLowerCase();
  const address = normalizeEmail(email);
  const name = address.split('@')[0] ?? '';
  if (lower === address || (name.length >= 4 && lower.includes(name)))
    return 'Your password cannot contain your email address.';
  if (commonPasswords().has(lower))
    return 'That password is on a list of commonly used and breached passwords. Choose another.';
  if (isTrivial(password)) return 'That password is too easy to guess: avoid repeated characters and sequences.';
  return undefined;
}
