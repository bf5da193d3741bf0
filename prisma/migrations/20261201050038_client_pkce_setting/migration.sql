-- AlterTable
ALTER TABLE "clients" ADD COLUMN     "pkce_required" BOOLEAN NOT NULL DEFAULT true;
