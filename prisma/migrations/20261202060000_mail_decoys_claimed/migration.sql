-- Decoy rows (written for addresses without an account) are now claimed and removed by a delivery
-- round like any message. Those written before waited, unclaimable, for a sweep that is gone.
DELETE FROM "mail_queue" WHERE "kind" = 'decoy';
