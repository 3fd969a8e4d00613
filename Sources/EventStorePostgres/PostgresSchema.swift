import EventStore
import Foundation
import Logging
import PostgresNIO

/// The store's tables and functions in one PostgreSQL schema, their migrations, and the marks that
/// tell our schema from any other.
///
/// Invariants live in the database, not only in the code: the global position is the primary key,
/// (stream, version) and event ids are unique, a trigger refuses an event whose position or stream
/// version is not directly preceded by an existing one (other than the first of the log or of its
/// stream), and committed events can be neither updated nor deleted.
///
/// Appends go through one function, `append_batch`, that takes a whole batch of appends as arrays
/// (one round trip for all of them) and decides each append on its own inside a subtransaction: an
/// append that does not fit (a wrong expected version, a stale fencing token, an event or command
/// id already taken) writes nothing and is reported back, undecided, for the caller to resolve
/// with ``AppendRules``.
///
/// **Gap-free order across servers.** Every batch first locks the one row of `log_head` and keeps
/// the lock until it commits. So batches, from any number of servers, take their positions one after
/// another, each starting right after the last committed position, and commit in position order:
/// the next batch cannot read the head before the previous one committed. PostgreSQL makes a
/// transaction visible before it releases its locks, so a reader that sees position p sees every
/// position below it; a reader tailing the log never skips an event that commits later with a
/// lower position, because there is none. The cost is one writer at a time across the cluster,
/// which group commit (many appends per batch) pays for.
enum PostgresSchema {
    /// The value of the `format` row of `store_metadata`.
    static let format = "tradecore-eventstore"
    /// The schema version after the newest migration.
    static let version = 2

    /// A schema name we accept: it is spliced into SQL, so only plain lowercase identifiers.
    static func isValidName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard let first = bytes.first, (1...48).contains(bytes.count) else { return false }
        guard (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(first) || first == UInt8(ascii: "_") else {
            return false
        }
        return bytes.allSatisfy {
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0)
                || $0 == UInt8(ascii: "_")
        }
    }

    /// The channel on which committed batches are announced (NOTIFY) to every server of the schema.
    static func channel(_ schema: String) -> String { "tradecore_log_\(schema)" }

    /// Creates or migrates the schema, refusing one that is not ours or is newer than this code.
    /// Several servers may start at once: a transaction-scoped advisory lock per schema serialises them.
    static func migrate(_ connection: PostgresConnection, schema: String, logger: Logger) async throws {
        try await connection.withTransaction(logger: logger) { connection in
            // Per schema: stores of different schemas open side by side.
            try await connection.execute(
                "SELECT pg_advisory_xact_lock(hashtext(\("tradecore-migrate:" + schema)))", logger: logger)
            try await validate(connection, schema: schema, logger: logger)
            let current = try await schemaVersion(connection, schema: schema, logger: logger)
            if current < 1 {
                for statement in statements(version1(schema)) {
                    try await connection.execute(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.execute(
                    """
                    INSERT INTO \(unescaped: schema).store_metadata (key, value) VALUES \
                    ('format', \(format)), ('schema_version', '1'), ('created_at', \(String(UnixTime.nowNanoseconds()))), \
                    ('store_id', \(UUID().lowercasedText))
                    """,
                    logger: logger)
            }
            if current < 2 {
                for statement in statements(version2(schema)) {
                    try await connection.execute(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.execute(
                    "UPDATE \(unescaped: schema).store_metadata SET value = '2' WHERE key = 'schema_version'",
                    logger: logger)
            }
        }
    }

    /// Throws ``EventStoreError`` with `.foreignStore` or `.incompatibleStore` for a schema that
    /// holds tables but is not a store of ours, or a newer one. An absent or empty schema is fine.
    private static func validate(_ connection: PostgresConnection, schema: String, logger: Logger) async throws {
        var tables: [String] = []
        for try await name in try await connection.query(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = \(schema) ORDER BY 1",
            logger: logger
        ).decode(String.self) {
            tables.append(name)
        }
        guard !tables.isEmpty else { return }
        guard tables.contains("store_metadata") else {
            throw EventStoreError(
                code: .foreignStore,
                message: "the PostgreSQL schema '\(schema)' holds tables that are not a TradeCore event store "
                    + "(\(tables.prefix(8).joined(separator: ", "))); refusing to use it (choose another schema)")
        }
        var stored: [String: String] = [:]
        for try await (key, value) in try await connection.query(
            "SELECT key, value FROM \(unescaped: schema).store_metadata", logger: logger
        ).decode((String, String).self) {
            stored[key] = value
        }
        guard stored["format"] == format else {
            throw EventStoreError(
                code: .foreignStore,
                message: "the PostgreSQL schema '\(schema)' is marked as format '\(stored["format"] ?? "missing")', "
                    + "not a TradeCore event store; refusing to use it")
        }
        let storedVersion = stored["schema_version"].flatMap(Int.init) ?? 0
        guard storedVersion <= version else {
            throw EventStoreError(
                code: .incompatibleStore,
                message: "the PostgreSQL schema '\(schema)' was written by a newer version of TradeCore (schema "
                    + "\(storedVersion), this version knows up to \(version)); refusing to open it")
        }
    }

    private static func schemaVersion(
        _ connection: PostgresConnection, schema: String, logger: Logger
    ) async throws
        -> Int
    {
        let exists = try await connection.query(
            """
            SELECT count(*) FROM information_schema.tables \
            WHERE table_schema = \(schema) AND table_name = 'store_metadata'
            """,
            logger: logger
        ).decode(Int64.self).reduce(0, +)
        guard exists > 0 else { return 0 }
        for try await value in try await connection.query(
            "SELECT value FROM \(unescaped: schema).store_metadata WHERE key = 'schema_version'", logger: logger
        ).decode(String.self) {
            return Int(value) ?? 0
        }
        return 0
    }

    /// The statements of a migration script, which separates them with lines of `;;` (the extended
    /// query protocol takes one statement at a time, and function bodies hold semicolons).
    private static func statements(_ script: String) -> [String] {
        script.components(separatedBy: "\n;;").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
            .filter { !$0.isEmpty }
    }

    /// The first schema: tables and invariants (its batch append function is now version 2's).
    private static func version1(_ schema: String) -> String {
        """
        CREATE SCHEMA IF NOT EXISTS \(schema)
        ;;
        SET LOCAL search_path TO \(schema)
        ;;

        CREATE TABLE store_metadata (
            key text PRIMARY KEY,
            value text NOT NULL
        )
        ;;

        -- The one row every batch locks: the position of the last committed event.
        CREATE TABLE log_head (
            singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
            position bigint NOT NULL CHECK (position >= 0)
        )
        ;;
        INSERT INTO log_head (position) VALUES (0)
        ;;

        CREATE TABLE streams (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            name text NOT NULL UNIQUE,
            type text NOT NULL,
            version bigint NOT NULL CHECK (version >= 0)
        )
        ;;

        CREATE TABLE events (
            position bigint PRIMARY KEY CHECK (position > 0),
            stream_id bigint NOT NULL REFERENCES streams (id),
            version bigint NOT NULL CHECK (version >= 0),
            event_id uuid NOT NULL UNIQUE,
            event_type text NOT NULL,
            data bytea NOT NULL,
            causation_id uuid,
            correlation_id uuid,
            saga_id uuid,
            user_id uuid,
            command_type text,
            time bigint NOT NULL,
            extra bytea,
            UNIQUE (stream_id, version)
        )
        ;;

        CREATE FUNCTION events_have_no_holes() RETURNS trigger LANGUAGE plpgsql AS $f$
        BEGIN
            IF NEW.position > 1 AND NOT EXISTS (SELECT 1 FROM events WHERE position = NEW.position - 1) THEN
                RAISE EXCEPTION 'event position % must directly follow the head of the log', NEW.position;
            END IF;
            IF NEW.version > 0 AND NOT EXISTS
                (SELECT 1 FROM events WHERE stream_id = NEW.stream_id AND version = NEW.version - 1) THEN
                RAISE EXCEPTION 'event version % must directly follow the head of its stream', NEW.version;
            END IF;
            RETURN NEW;
        END $f$ SET search_path FROM CURRENT
        ;;
        CREATE TRIGGER events_have_no_holes BEFORE INSERT ON events
            FOR EACH ROW EXECUTE FUNCTION events_have_no_holes()
        ;;

        CREATE FUNCTION events_are_permanent() RETURNS trigger LANGUAGE plpgsql AS $f$
        BEGIN
            RAISE EXCEPTION 'committed events are immutable and permanent';
        END $f$
        ;;
        CREATE TRIGGER events_are_permanent BEFORE UPDATE OR DELETE ON events
            FOR EACH ROW EXECUTE FUNCTION events_are_permanent()
        ;;

        CREATE TABLE snapshots (
            stream_id bigint NOT NULL REFERENCES streams (id),
            shape_version integer NOT NULL,
            version bigint NOT NULL CHECK (version >= 0),
            data bytea NOT NULL,
            time bigint NOT NULL,
            PRIMARY KEY (stream_id, shape_version)
        )
        ;;

        -- The outcome of each command by its id, committed with the append it rode on (its stream,
        -- first version and position, event count) or on its own (NULLs).
        CREATE TABLE commands (
            command_id uuid PRIMARY KEY,
            command_type text NOT NULL,
            outcome bytea NOT NULL,
            time bigint NOT NULL,
            stream_id bigint REFERENCES streams (id),
            first_version bigint CHECK (first_version >= 0),
            first_position bigint CHECK (first_position > 0),
            event_count integer CHECK (event_count > 0),
            CHECK ((stream_id IS NULL) = (first_position IS NULL))
        )
        ;;
        CREATE INDEX commands_by_time ON commands (time)
        ;;

        CREATE TABLE fencing_tokens (
            key text PRIMARY KEY,
            token bigint NOT NULL CHECK (token > 0)
        )
        ;;

        -- Read models kept by projections in this schema, each projection's checkpoint committed in
        -- the same transaction as its rows. Keys are UTF-8 bytes, so they order by bytes.
        CREATE TABLE projection_checkpoints (
            projection text PRIMARY KEY,
            position bigint NOT NULL CHECK (position >= 0)
        )
        ;;
        -- The distributed lock's leases, timed on the database's clock (Unix nanoseconds) so every
        -- server agrees when one runs out.
        CREATE TABLE locks (
            key text PRIMARY KEY,
            holder uuid NOT NULL,
            token bigint NOT NULL,
            expires_at bigint NOT NULL
        )
        ;;
        -- Takes the lock on a key for a holder if it is free or its lease ran out, issuing the
        -- next fencing token of the key in the same transaction; no row when it is held.
        CREATE FUNCTION acquire_lock(p_key text, p_holder uuid, p_ttl bigint)
        RETURNS TABLE (r_token bigint, r_expires_at bigint) LANGUAGE plpgsql AS $f$
        DECLARE
            now_ns bigint;
            held_until bigint;
        BEGIN
            -- A key's row is never deleted (a release only ends its lease), so the row lock below
            -- always finds it and serialises every taker of the key.
            INSERT INTO locks (key, holder, token, expires_at) VALUES (p_key, p_holder, 0, 0)
                ON CONFLICT (key) DO NOTHING;
            SELECT l.expires_at INTO held_until FROM locks l WHERE l.key = p_key FOR UPDATE;
            now_ns := (extract(epoch FROM clock_timestamp()) * 1000000000)::bigint;
            IF held_until > now_ns THEN
                RETURN;
            END IF;
            INSERT INTO fencing_tokens (key, token) VALUES (p_key, 1)
                ON CONFLICT (key) DO UPDATE SET token = fencing_tokens.token + 1
                RETURNING fencing_tokens.token INTO r_token;
            r_expires_at := now_ns + p_ttl;
            UPDATE locks SET holder = p_holder, token = r_token, expires_at = r_expires_at WHERE key = p_key;
            RETURN NEXT;
        END $f$ SET search_path FROM CURRENT
        ;;
        CREATE TABLE read_models (
            collection text NOT NULL,
            key bytea NOT NULL,
            value bytea NOT NULL,
            PRIMARY KEY (collection, key)
        )
        ;;

        -- append_batch, the function every batch of appends calls, is created by version 2 (which
        -- replaced version 1's body in databases made before it).
        """
    }

    /// `append_batch` reads each of its arrays once, front to back, instead of subscripting them per
    /// append: an element of a text or bytea array is found by walking the array from its start, so
    /// the first version cost each append time in proportion to the batch (76 µs per append in
    /// batches of 50, 204 µs in batches of 1,000, measured inside one transaction; now about 50 µs
    /// whatever the size). Same signature, results and semantics.
    private static func version2(_ schema: String) -> String {
        let channel = channel(schema)
        return """
            SET LOCAL search_path TO \(schema)
            ;;
            -- Appends a batch for the server named p_origin; see PostgresSchema in the Swift code. One
            -- result row per append, in order: written (the first version and position), or not written
            -- (NULLs), to be resolved by the caller. Expected kinds: 0 any, 1 no stream, 2 stream exists,
            -- 3 exact version. The planner takes each batch array for 1,000 rows: a statement estimated
            -- past jit_above_cost would be compiled to machine code on every call (tens of
            -- milliseconds), hence jit off.
            CREATE OR REPLACE FUNCTION append_batch(
                a_stream text[], a_type text[], a_expected_kind smallint[], a_expected_version bigint[],
                a_count integer[], a_has_command boolean[], a_command_id uuid[], a_command_type text[],
                a_command_outcome bytea[], a_command_time bigint[], a_has_fence boolean[], a_fence_key text[],
                a_fence_token bigint[],
                e_id uuid[], e_type text[], e_data bytea[], e_has_causation boolean[], e_causation uuid[],
                e_has_correlation boolean[], e_correlation uuid[], e_has_saga boolean[], e_saga uuid[],
                e_has_user boolean[], e_user uuid[], e_has_command_type boolean[], e_command_type text[],
                e_time bigint[], e_extra bytea[], p_origin text
            ) RETURNS TABLE (r_written boolean, r_first_version bigint, r_first_position bigint)
            LANGUAGE plpgsql AS $f$
            DECLARE
                head bigint;
                start_head bigint;
                a record;
                ev record;
                n integer;
                sid bigint;
                current_version bigint;
                first_version bigint;
                events_cursor refcursor;
                x_id uuid[];
                x_type text[];
                x_data bytea[];
                x_causation uuid[];
                x_correlation uuid[];
                x_saga uuid[];
                x_user uuid[];
                x_command_type text[];
                x_time bigint[];
                x_extra bytea[];
            BEGIN
                SELECT h.position INTO head FROM log_head h WHERE h.singleton FOR UPDATE;
                start_head := head;
                -- Each array is read once, front to back: subscripting an array of text or bytea walks it from
                -- its start, which made a batch cost the square of its size.
                OPEN events_cursor FOR
                    SELECT e.id, e.type, e.data,
                        CASE WHEN e.has_causation THEN e.causation END AS causation,
                        CASE WHEN e.has_correlation THEN e.correlation END AS correlation,
                        CASE WHEN e.has_saga THEN e.saga END AS saga,
                        CASE WHEN e.has_user THEN e.user_id END AS user_id,
                        CASE WHEN e.has_command_type THEN e.command_type END AS command_type,
                        e.time, NULLIF(e.extra, ''::bytea) AS extra
                    FROM unnest(e_id, e_type, e_data, e_has_causation, e_causation, e_has_correlation, e_correlation,
                        e_has_saga, e_saga, e_has_user, e_user, e_has_command_type, e_command_type, e_time, e_extra)
                        WITH ORDINALITY AS e(id, type, data, has_causation, causation, has_correlation, correlation,
                            has_saga, saga, has_user, user_id, has_command_type, command_type, time, extra, ord)
                    ORDER BY e.ord;
                FOR a IN
                    SELECT * FROM unnest(a_stream, a_type, a_expected_kind, a_expected_version, a_count, a_has_command,
                        a_command_id, a_command_type, a_command_outcome, a_command_time, a_has_fence, a_fence_key,
                        a_fence_token)
                        WITH ORDINALITY AS t(stream, type, expected_kind, expected_version, count, has_command, command_id,
                            command_type, command_outcome, command_time, has_fence, fence_key, fence_token, ord)
                    ORDER BY t.ord
                LOOP
                    n := a.count;
                    -- The append's events, taken from the cursor before its subtransaction starts.
                    x_id := '{}'; x_type := '{}'; x_data := '{}'; x_causation := '{}'; x_correlation := '{}';
                    x_saga := '{}'; x_user := '{}'; x_command_type := '{}'; x_time := '{}'; x_extra := '{}';
                    FOR k IN 1 .. n LOOP
                        FETCH events_cursor INTO ev;
                        x_id := array_append(x_id, ev.id);
                        x_type := array_append(x_type, ev.type);
                        x_data := array_append(x_data, ev.data);
                        x_causation := array_append(x_causation, ev.causation);
                        x_correlation := array_append(x_correlation, ev.correlation);
                        x_saga := array_append(x_saga, ev.saga);
                        x_user := array_append(x_user, ev.user_id);
                        x_command_type := array_append(x_command_type, ev.command_type);
                        x_time := array_append(x_time, ev.time);
                        x_extra := array_append(x_extra, ev.extra);
                    END LOOP;
                    r_written := false;
                    r_first_version := NULL;
                    r_first_position := NULL;
                    BEGIN
                        SELECT s.id, s.version INTO sid, current_version FROM streams s WHERE s.name = a.stream;
                        IF NOT FOUND THEN
                            sid := NULL;
                            current_version := NULL;
                        END IF;
                        IF (a.expected_kind = 1 AND current_version IS NOT NULL)
                            OR (a.expected_kind = 2 AND current_version IS NULL)
                            OR (a.expected_kind = 3 AND current_version IS DISTINCT FROM a.expected_version)
                            OR (a.has_fence AND (SELECT f.token FROM fencing_tokens f WHERE f.key = a.fence_key)
                                IS DISTINCT FROM a.fence_token) THEN
                            NULL; -- not written: the caller decides why
                        ELSE
                            IF sid IS NULL THEN
                                first_version := 0;
                                INSERT INTO streams (name, type, version) VALUES (a.stream, a.type, n - 1)
                                    RETURNING id INTO sid;
                            ELSE
                                first_version := current_version + 1;
                                UPDATE streams SET version = current_version + n WHERE id = sid;
                            END IF;
                            IF a.has_command THEN
                                INSERT INTO commands (command_id, command_type, outcome, time, stream_id,
                                    first_version, first_position, event_count)
                                VALUES (a.command_id, a.command_type, a.command_outcome, a.command_time,
                                    sid, first_version, head + 1, n);
                            END IF;
                            INSERT INTO events (position, stream_id, version, event_id, event_type, data,
                                causation_id, correlation_id, saga_id, user_id, command_type, time, extra)
                            SELECT head + x.ord, sid, first_version + x.ord - 1, x.id, x.type, x.data, x.causation,
                                x.correlation, x.saga, x.user_id, x.command_type, x.time, x.extra
                            FROM unnest(x_id, x_type, x_data, x_causation, x_correlation, x_saga, x_user, x_command_type,
                                x_time, x_extra)
                                WITH ORDINALITY AS x(id, type, data, causation, correlation, saga, user_id, command_type,
                                    time, extra, ord)
                            ORDER BY x.ord;
                            r_written := true;
                            r_first_version := first_version;
                            r_first_position := head + 1;
                            head := head + n;
                        END IF;
                    EXCEPTION WHEN unique_violation THEN
                        -- An event id or the command id is taken: nothing of this append stays.
                        r_written := false;
                        r_first_version := NULL;
                        r_first_position := NULL;
                    END;
                    RETURN NEXT;
                END LOOP;
                CLOSE events_cursor;
                IF head > start_head THEN
                    UPDATE log_head SET position = head WHERE singleton;
                    -- "<head> <origin>": the server that wrote the batch publishes it itself.
                    PERFORM pg_notify('\(channel)', head::text || ' ' || p_origin);
                END IF;
            END $f$ SET search_path FROM CURRENT
                SET jit = off
            ;;
            """
    }
}

extension PostgresConnection {
    /// Runs a statement and reads its rows to the end: an error the server sends after the first
    /// rows (a statement cancelled half-way) is thrown here instead of being lost with the rows.
    package func execute(_ query: PostgresQuery, logger: Logger) async throws {
        for try await _ in try await self.query(query, logger: logger) {}
    }
}
