-- 0003: the outbox of `outcomes serve`'s notifications. A load run by the service writes its row
-- here in the load's own transaction; the service sends the load's events (outcome, safety
-- alerts) and then sets sent_at. A service that dies between the commit and the send finds the
-- row unsent when it comes back and sends it then: at least once, never lost. CLI ingests send
-- nothing and write no row.
CREATE TABLE ops.outbox (
    load_id     BIGINT NOT NULL,      -- ops.loads.load_id: what to send is read from there and ops.alerts
    registry_id VARCHAR NOT NULL,
    instance    VARCHAR NOT NULL,     -- the service ([service] name) that sends it
    queued_at   TIMESTAMPTZ NOT NULL, -- when the load committed it
    sent_at     TIMESTAMPTZ           -- NULL until its events were accepted by the Prefect API
);
