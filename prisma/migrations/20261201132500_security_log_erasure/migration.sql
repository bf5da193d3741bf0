-- Erasing a person must be possible without hand-written SQL: the log stays append-only, except that
-- an update which only clears a line's IP address (every other column unchanged) goes through.
-- Any other update is still ignored, so the rule can remove personal data and never rewrite history.
DROP RULE "security_events_no_update" ON "security_events";
CREATE RULE "security_events_no_update" AS ON UPDATE TO "security_events"
  WHERE NOT (
    NEW."ip" IS NULL
    AND NEW."id" = OLD."id"
    AND NEW."at" = OLD."at"
    AND NEW."type" = OLD."type"
    AND NEW."user_id" IS NOT DISTINCT FROM OLD."user_id"
    AND NEW."actor" = OLD."actor"
    AND NEW."detail" IS NOT DISTINCT FROM OLD."detail"
  )
  DO INSTEAD NOTHING;
