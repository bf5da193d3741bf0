-- AlterTable
ALTER TABLE "clients" ADD COLUMN     "default_resource" TEXT;
