-- AlterTable
ALTER TABLE "clients" ADD COLUMN     "access_token_ttl_seconds" INTEGER;
