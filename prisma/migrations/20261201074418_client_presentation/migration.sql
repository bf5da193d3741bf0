-- AlterTable
ALTER TABLE "clients" ADD COLUMN     "client_uri" TEXT,
ADD COLUMN     "logo_uri" TEXT,
ADD COLUMN     "policy_uri" TEXT,
ADD COLUMN     "tos_uri" TEXT;
