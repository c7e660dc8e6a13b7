"""The SurrealDB schema (the seed's "Storage Schema"), versioned and applied idempotently.

Besides the seed's indexes, events and traces carry string sort keys (``sk`` ascending, ``rsk``
descending, ``tkey`` per trace) so that every listing is a single-field index range scan that can
stop at its page size; see ``surreal.py`` for why descending order needs a key of its own.
"""

SCHEMA_VERSION = 10
ROLLUPS_SINCE = 7  # a store older than this has events whose rollups must be made once
TRACE_SUMS_SINCE = 10  # a store older than this has traces whose sums must be made once

SCHEMA = """
DEFINE TABLE OVERWRITE agent_trace SCHEMAFULL;
DEFINE FIELD OVERWRITE session_id ON agent_trace TYPE option<string>;
DEFINE FIELD OVERWRITE agent_id ON agent_trace TYPE option<string>;
DEFINE FIELD OVERWRITE status ON agent_trace TYPE string
    ASSERT $value IN ['running', 'completed', 'failed'] DEFAULT 'running';
DEFINE FIELD OVERWRITE status_rank ON agent_trace TYPE int DEFAULT 0;
DEFINE FIELD OVERWRITE start_time ON agent_trace TYPE datetime;
DEFINE FIELD OVERWRITE end_time ON agent_trace TYPE option<datetime>;
DEFINE FIELD OVERWRITE last_event_at ON agent_trace TYPE datetime;
DEFINE FIELD OVERWRITE total_events ON agent_trace TYPE int DEFAULT 0;
-- v5: the model the trace's events last named (its LLM calls that do not say theirs use it).
DEFINE FIELD OVERWRITE model ON agent_trace TYPE option<string>;
-- v10: what the trace's events add up to, as the rollups count them (fn::rollup_row).
DEFINE FIELD OVERWRITE error_count ON agent_trace TYPE int DEFAULT 0;
DEFINE FIELD OVERWRITE input_tokens ON agent_trace TYPE int DEFAULT 0;
DEFINE FIELD OVERWRITE output_tokens ON agent_trace TYPE int DEFAULT 0;
DEFINE FIELD OVERWRITE cost_usd ON agent_trace TYPE float DEFAULT 0.0;
DEFINE FIELD OVERWRITE created_at ON agent_trace TYPE datetime DEFAULT time::now() READONLY;
DEFINE FIELD OVERWRITE updated_at ON agent_trace TYPE datetime VALUE time::now();
DEFINE FIELD OVERWRITE sk ON agent_trace TYPE string;
DEFINE FIELD OVERWRITE rsk ON agent_trace TYPE string;
DEFINE INDEX OVERWRITE idx_session_id ON agent_trace FIELDS session_id;
DEFINE INDEX OVERWRITE idx_start_time ON agent_trace FIELDS start_time;
DEFINE INDEX OVERWRITE idx_trace_sk ON agent_trace FIELDS sk;
DEFINE INDEX OVERWRITE idx_trace_rsk ON agent_trace FIELDS rsk;
DEFINE INDEX OVERWRITE idx_trace_last_event_at ON agent_trace FIELDS last_event_at;

DEFINE TABLE OVERWRITE agent_event SCHEMAFULL;
DEFINE FIELD OVERWRITE trace_id ON agent_event TYPE option<string>;
DEFINE FIELD OVERWRITE session_id ON agent_event TYPE option<string>;
DEFINE FIELD OVERWRITE agent_id ON agent_event TYPE option<string>;
DEFINE FIELD OVERWRITE parent_event_id ON agent_event TYPE option<string>;
DEFINE FIELD OVERWRITE timestamp ON agent_event TYPE datetime;
DEFINE FIELD OVERWRITE event_type ON agent_event TYPE option<string>;
DEFINE FIELD OVERWRITE properties ON agent_event TYPE object FLEXIBLE;
-- v4: properties holding U+0000 are kept as their JSON text (SurrealDB cannot serialise NUL back).
DEFINE FIELD OVERWRITE properties_json ON agent_event TYPE option<string>;
DEFINE FIELD OVERWRITE source ON agent_event TYPE option<object> FLEXIBLE;
DEFINE FIELD OVERWRITE is_error ON agent_event TYPE bool DEFAULT false;
DEFINE FIELD OVERWRITE created_at ON agent_event TYPE datetime DEFAULT time::now() READONLY;
DEFINE FIELD OVERWRITE sk ON agent_event TYPE string;
DEFINE FIELD OVERWRITE rsk ON agent_event TYPE string;
DEFINE FIELD OVERWRITE tkey ON agent_event TYPE option<string>;
-- Set once the event's vector is in Qdrant; reindex embeds whatever is false.
DEFINE FIELD OVERWRITE indexed ON agent_event TYPE bool DEFAULT false;
DEFINE INDEX OVERWRITE idx_trace_id ON agent_event FIELDS trace_id;
DEFINE INDEX OVERWRITE idx_timestamp ON agent_event FIELDS timestamp;
DEFINE INDEX OVERWRITE idx_event_sk ON agent_event FIELDS sk;
DEFINE INDEX OVERWRITE idx_event_rsk ON agent_event FIELDS rsk;
DEFINE INDEX OVERWRITE idx_event_tkey ON agent_event FIELDS tkey;
DEFINE INDEX OVERWRITE idx_event_indexed ON agent_event FIELDS indexed;
-- v6: a sort key per documented filter, in both orders, so that a filtered page is one index range
-- scan that stops at the page size: "<length of the value, 3 digits>:<value>:<sk or rsk>".
DEFINE FIELD OVERWRITE trace_rsk ON agent_event TYPE option<string>;
DEFINE FIELD OVERWRITE type_sk ON agent_event TYPE option<string>;
DEFINE FIELD OVERWRITE type_rsk ON agent_event TYPE option<string>;
DEFINE FIELD OVERWRITE agent_sk ON agent_event TYPE option<string>;
DEFINE FIELD OVERWRITE agent_rsk ON agent_event TYPE option<string>;
DEFINE FIELD OVERWRITE session_sk ON agent_event TYPE option<string>;
DEFINE FIELD OVERWRITE session_rsk ON agent_event TYPE option<string>;
DEFINE INDEX OVERWRITE idx_event_trace_rsk ON agent_event FIELDS trace_rsk;
DEFINE INDEX OVERWRITE idx_event_type_sk ON agent_event FIELDS type_sk;
DEFINE INDEX OVERWRITE idx_event_type_rsk ON agent_event FIELDS type_rsk;
DEFINE INDEX OVERWRITE idx_event_agent_sk ON agent_event FIELDS agent_sk;
DEFINE INDEX OVERWRITE idx_event_agent_rsk ON agent_event FIELDS agent_rsk;
DEFINE INDEX OVERWRITE idx_event_session_sk ON agent_event FIELDS session_sk;
DEFINE INDEX OVERWRITE idx_event_session_rsk ON agent_event FIELDS session_rsk;
-- v5 -> v6: the keys of events stored before them, from the keys they have.
DEFINE FUNCTION OVERWRITE fn::filter_key($value: option<string>, $key: string) {
    IF $value = NONE { RETURN NONE; };
    LET $n = <string>string::len($value);
    LET $padded = string::slice(string::concat('00', $n), string::len($n) - 1);
    RETURN string::concat($padded, ':', $value, ':', $key);
};
UPDATE agent_event SET
    trace_rsk = IF trace_id = NONE THEN NONE ELSE string::concat(trace_id, '|', rsk) END,
    type_sk = fn::filter_key(event_type, sk), type_rsk = fn::filter_key(event_type, rsk),
    agent_sk = fn::filter_key(agent_id, sk), agent_rsk = fn::filter_key(agent_id, rsk),
    session_sk = fn::filter_key(session_id, sk), session_rsk = fn::filter_key(session_id, rsk)
    WHERE type_sk = NONE AND event_type != NONE OR agent_sk = NONE AND agent_id != NONE
        OR session_sk = NONE AND session_id != NONE OR trace_rsk = NONE AND trace_id != NONE
    RETURN NONE;
-- v1 -> v2: events stored before the flag existed have no vector.
UPDATE agent_event SET indexed = false WHERE indexed = NONE RETURN NONE;

-- Edge ids are the event's own key: an event has one trace and one parent, so a redelivery
-- can never make a second edge (INSERT RELATION IGNORE skips an existing id).
DEFINE TABLE OVERWRITE hasEvent TYPE RELATION IN agent_trace OUT agent_event SCHEMAFULL;
DEFINE TABLE OVERWRITE causedBy TYPE RELATION IN agent_event OUT agent_event SCHEMAFULL;

-- v5: the latest run marks of each log stream that names no request, as "<ms>:<kind>:<session>"
-- (kind 0 fails, 1 ends, 2 starts; zero-padded, they sort in the order they apply).
DEFINE TABLE OVERWRITE stream_run SCHEMAFULL;
DEFINE FIELD OVERWRITE marks ON stream_run TYPE array<string> DEFAULT [];
DEFINE FIELD OVERWRITE updated_at ON stream_run TYPE datetime VALUE time::now();
DEFINE INDEX OVERWRITE idx_stream_run_updated_at ON stream_run FIELDS updated_at;

-- v9: the seed's single-field indexes on event_type, session_id and agent_id go: every listing
-- scans its filter's sort key (v6) instead, and each index cost memory (surrealkv holds its keys)
-- and write time (~10 % each at 20,000 events) for no query.
REMOVE INDEX IF EXISTS idx_event_type ON agent_event;
REMOVE INDEX IF EXISTS idx_session_id ON agent_event;
REMOVE INDEX IF EXISTS idx_agent_id ON agent_event;

-- v8: a trace's sort key per documented filter of the trace listing, in both orders, kept by the
-- engine from the trace's own fields on every write (its status changes as its run ends).
DEFINE FIELD OVERWRITE status_sk ON agent_trace VALUE fn::filter_key($this.status, $this.sk);
DEFINE FIELD OVERWRITE status_rsk ON agent_trace VALUE fn::filter_key($this.status, $this.rsk);
DEFINE FIELD OVERWRITE agent_sk ON agent_trace VALUE fn::filter_key($this.agent_id, $this.sk);
DEFINE FIELD OVERWRITE agent_rsk ON agent_trace VALUE fn::filter_key($this.agent_id, $this.rsk);
DEFINE FIELD OVERWRITE session_sk ON agent_trace VALUE fn::filter_key($this.session_id, $this.sk);
DEFINE FIELD OVERWRITE session_rsk ON agent_trace VALUE fn::filter_key($this.session_id, $this.rsk);
DEFINE INDEX OVERWRITE idx_trace_status_sk ON agent_trace FIELDS status_sk;
DEFINE INDEX OVERWRITE idx_trace_status_rsk ON agent_trace FIELDS status_rsk;
DEFINE INDEX OVERWRITE idx_trace_agent_sk ON agent_trace FIELDS agent_sk;
DEFINE INDEX OVERWRITE idx_trace_agent_rsk ON agent_trace FIELDS agent_rsk;
DEFINE INDEX OVERWRITE idx_trace_session_sk ON agent_trace FIELDS session_sk;
DEFINE INDEX OVERWRITE idx_trace_session_rsk ON agent_trace FIELDS session_rsk;
UPDATE agent_trace SET status = status WHERE status_sk = NONE RETURN NONE;

-- v7: per-hour rollups of the events, by dimension (event_type, agent_id, tool, model) and value,
-- kept in the write transaction (new events only) and read by /stats. Record id: [dim, hour ms, value].
DEFINE TABLE OVERWRITE rollup SCHEMAFULL;
DEFINE FIELD OVERWRITE dim ON rollup TYPE string;
DEFINE FIELD OVERWRITE bucket ON rollup TYPE int;
DEFINE FIELD OVERWRITE key ON rollup TYPE option<string>;
DEFINE FIELD OVERWRITE n ON rollup TYPE int DEFAULT 0;
DEFINE FIELD OVERWRITE errors ON rollup TYPE int DEFAULT 0;
DEFINE FIELD OVERWRITE calls ON rollup TYPE int DEFAULT 0;
DEFINE FIELD OVERWRITE input_tokens ON rollup TYPE int DEFAULT 0;
DEFINE FIELD OVERWRITE output_tokens ON rollup TYPE int DEFAULT 0;
DEFINE FIELD OVERWRITE cost_usd ON rollup TYPE float DEFAULT 0.0;
DEFINE FIELD OVERWRITE timed ON rollup TYPE int DEFAULT 0;
DEFINE FIELD OVERWRITE duration_ms ON rollup TYPE float DEFAULT 0.0;
-- What one event adds to the rollups: the one definition, for writes and for rebuilds.
DEFINE FUNCTION OVERWRITE fn::rollup_row(
    $ms: int, $event_type: option<string>, $agent_id: option<string>, $is_error: bool, $p: option<object>
) {
    LET $duration = $p.duration_ms;
    RETURN {
        bucket: $ms - $ms % 3600000,
        event_type: $event_type,
        agent_id: $agent_id,
        tool: IF type::is::string($p.tool_name) THEN $p.tool_name ELSE NONE END,
        model: IF type::is::string($p.model) THEN $p.model ELSE NONE END,
        err: IF $is_error THEN 1 ELSE 0 END,
        call: IF $event_type INSIDE ['tool_call', 'llm_call'] THEN 1 ELSE 0 END,
        in_tok: IF type::is::int($p.input_tokens) THEN $p.input_tokens ELSE 0 END,
        out_tok: IF type::is::int($p.output_tokens) THEN $p.output_tokens ELSE 0 END,
        cost: IF type::is::number($p.cost_usd) THEN <float>$p.cost_usd ELSE 0.0 END,
        timed: IF type::is::number($duration) THEN 1 ELSE 0 END,
        duration: IF type::is::number($duration) THEN <float>$duration ELSE 0.0 END
    };
};

DEFINE TABLE OVERWRITE schema_meta SCHEMAFULL;
DEFINE FIELD OVERWRITE version ON schema_meta TYPE int;
DEFINE FIELD OVERWRITE applied_at ON schema_meta TYPE datetime;
"""
