-- AlterTable
ALTER TABLE "users" ADD COLUMN     "passkey_offered_at" TIMESTAMPTZ(3);
