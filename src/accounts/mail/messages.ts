import type { MailMessage } from './mailer.ts';

/**
 * Every mail Latchkey sends, in one place: what a person reads, and the `kind` the log keeps
 * instead of the body. Links are built by the caller from the configured issuer URL, never from a
 * request's Host header.
 */
export type Composed = Omit<MailMessage, 'to'>;

const minutes = (seconds: number) => Math.max(1, Math.round(seconds / 60));

export function accountLocked(lockedForSeconds: number, issuerUrl: string): Composed {
  return {
    kind: 'account_locked',
    subject: 'Your Latchkey account was locked',
    text: `Someone tried to sign in to your Latchkey account with a wrong password several times, so sign-in is paused for ${Math.ceil(lockedForSeconds / 60)} minute(s).

Was this you? Then wait and try again. Browsers you have signed in with before can still sign in, and you can reset your password: ${issuerUrl}/reset
Was this not you? Your password was not accepted, and your account is safe. If your password may be known to someone else, change it: ${issuerUrl}/account

A passkey cannot be guessed and is not paused by this: add one at ${issuerUrl}/account to sign in with your fingerprint, face or device PIN instead of a password.

This is an automatic message.`,
  };
}

export function magicLink(link: string, clientName: string): Composed {
  return {
    kind: 'magic_link',
    subject: 'Your Latchkey sign-in link',
    text: `Someone (hopefully you) asked to sign in to ${clientName} with this email address.

Open this link in the same browser to sign in. It works once, for 10 minutes:
${link}

If you open it on another device, it shows a code to type into the browser that asked.
If you did not ask to sign in, ignore this message; nothing happens without the link.`,
  };
}

export function passwordReset(link: string, ttlSeconds: number): Composed {
  return {
    kind: 'password_reset',
    subject: 'Reset your Latchkey password',
    text: `Someone (hopefully you) asked to reset the password of your Latchkey account.\n\nChoose a new password here; the link works once, for ${minutes(ttlSeconds)} minutes:\n${link}\n\nIf you did not ask, ignore this message: your password stays as it is.`,
  };
}

export function passwordWasReset(issuerUrl: string): Composed {
  return {
    kind: 'password_changed',
    subject: 'Your Latchkey password was changed',
    text: `The password of your Latchkey account was just reset, and every device and app was signed out.\n\nIf this was not you, reset it again now (${issuerUrl}/reset) and tell your administrator.`,
  };
}

export function signUpForExistingAccount(issuerUrl: string): Composed {
  return {
    kind: 'sign_up_existing',
    subject: 'You already have a Latchkey account',
    text: `Someone (hopefully you) tried to create a Latchkey account with this address, which already has one.\n\nSign in instead, or reset your password: ${issuerUrl}/reset\n\nIf this was not you, ignore this message.`,
  };
}

export function confirmSignUp(link: string): Composed {
  return {
    kind: 'verify_email',
    subject: 'Confirm your email address for Latchkey',
    text: `Confirm this address and choose your password to finish creating your Latchkey account (the link works for 24 hours):\n${link}\n\nIf you did not sign up, ignore this message and no account is created.`,
  };
}

/** The changes to an account's security its owner is told about, with the way back if it was not them. */
const SECURITY_CHANGES = {
  password_changed: {
    subject: 'Your Latchkey password was changed',
    text: 'The password of your Latchkey account was just changed, and other browsers were signed out.',
  },
  totp_enrolled: {
    subject: 'Two-step verification is on',
    text: 'Two-step verification was turned on for your Latchkey account.',
  },
  totp_removed: {
    subject: 'Two-step verification was turned off',
    text: 'Two-step verification was turned off for your Latchkey account.',
  },
  passkey_added: {
    subject: 'A passkey was added to your Latchkey account',
    text: 'A passkey was added to your Latchkey account: it can now sign you in on its own.',
  },
  passkey_removed: {
    subject: 'A passkey was removed from your Latchkey account',
    text: 'A passkey was removed from your Latchkey account and can no longer sign you in.',
  },
} as const;

export type SecurityChange = keyof typeof SECURITY_CHANGES;

export function securityChange(change: SecurityChange, issuerUrl: string): Composed {
  const { subject, text } = SECURITY_CHANGES[change];
  return { kind: change, subject, text: `${text}\n\nIf this was not you, reset your password now: ${issuerUrl}/reset` };
}

export function apiKeyExpiring(name: string, prefix: string, expiresAt: Date, issuerUrl: string): Composed {
  return {
    kind: 'api_key_expiring',
    subject: 'A Latchkey API key expires soon',
    text: `Your API key "${name}" (${prefix}…) expires on ${expiresAt.toUTCString()}.

Scripts and jobs that use it stop working then. Make a new key at ${issuerUrl}/account/keys and put it in their place; the old one can be revoked there too.

This is an automatic message.`,
  };
}

export function apiKeyUsedFromNewAddress(
  name: string,
  prefix: string,
  ip: string | undefined,
  issuerUrl: string,
): Composed {
  return {
    kind: 'api_key_new_address',
    subject: 'Your Latchkey API key was used from a new address',
    text: `Your API key "${name}" (${prefix}…) was just used from an address it had not been used from before: ${ip ?? 'unknown'}.

Was this you, or a job of yours? Then nothing needs doing.
If not, revoke the key now at ${issuerUrl}/account/keys: it stops working at once.

This is an automatic message.`,
  };
}
