import argon2 from 'argon2';

/** OWASP's argon2id baseline: 19 MiB, 2 passes, 1 lane. Configurable upward, never below. */
export interface PasswordHashing {
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

export const OWASP_ARGON2ID: PasswordHashing = { memoryCost: 19_456, timeCost: 2, parallelism: 1 };

export function passwordHasher(parameters: PasswordHashing = OWASP_ARGON2ID) {
  const options = { type: argon2.argon2id as 2, ...parameters };
  // Verified against when the email is unknown, so a miss costs what a hit costs.
  let decoy: Promise<string> | undefined;

  return {
    hash: (password: string) => argon2.hash(password, options),

    /** Checks a password; with no stored hash it still spends one verification on the decoy. */
    async verify(storedHash: string | null | undefined, password: string): Promise<boolean> {
      decoy ??= argon2.hash('latchkey decoy password', options);
      const hash = storedHash ?? (await decoy);
      const matches = await argon2.verify(hash, password).catch(() => false);
      return storedHash ? matches : false;
    },

    needsRehash: (storedHash: string) => argon2.needsRehash(storedHash, options),
  };
}

export type PasswordHasher = ReturnType<typeof passwordHasher>;
