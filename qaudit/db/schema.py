"""The database schema, as numbered migrations applied in order (never edited once shipped).

``current_allocations`` is every allocation of a cycle's current draw (a redraw replaces
a draw but keeps it as history), with its cycle's name and due date: queries start from
it rather than repeating the join. A migration that adds a column to ``allocations``
recreates the view, so the column is one of its own (as 8 and 10 do).
"""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> str:
    """The time a row is written (the ``*_at`` columns), in UTC."""
    return datetime.now(UTC).isoformat(timespec="seconds")


MIGRATIONS: tuple[tuple[int, str, str], ...] = (
    (
        1,
        "cycles, draws and allocations",
        """
        CREATE TABLE cycles (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            date_from TEXT NOT NULL,
            date_to TEXT NOT NULL,
            due_date TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE TABLE draws (
            id INTEGER PRIMARY KEY,
            cycle_id INTEGER NOT NULL REFERENCES cycles(id),
            seed INTEGER NOT NULL,
            export_name TEXT NOT NULL,
            export_sha256 TEXT NOT NULL,
            export_sheet TEXT,
            rows_read INTEGER NOT NULL,
            settings_json TEXT NOT NULL,
            excluded_json TEXT NOT NULL,
            unusable_json TEXT NOT NULL,
            strata_json TEXT NOT NULL,
            created_at TEXT NOT NULL,
            replaced_at TEXT
        );
        CREATE UNIQUE INDEX draws_one_current ON draws(cycle_id) WHERE replaced_at IS NULL;
        CREATE TABLE allocations (
            id INTEGER PRIMARY KEY,
            draw_id INTEGER NOT NULL REFERENCES draws(id),
            reference TEXT NOT NULL,
            record_id TEXT NOT NULL,
            person_id TEXT NOT NULL,
            audit_type TEXT NOT NULL,
            stratum_type TEXT NOT NULL,
            quadrant TEXT NOT NULL,
            worker_id TEXT NOT NULL,
            worker_name TEXT NOT NULL,
            team TEXT NOT NULL,
            service_manager TEXT NOT NULL,
            completed_date TEXT NOT NULL,
            question_set TEXT NOT NULL,
            question_set_version TEXT NOT NULL,
            question_set_hash TEXT NOT NULL,
            UNIQUE (draw_id, reference),
            UNIQUE (draw_id, record_id),
            UNIQUE (draw_id, person_id)
        );
        CREATE INDEX allocations_person ON allocations(person_id);
        CREATE INDEX allocations_worker ON allocations(worker_id);
        CREATE TABLE question_sets (
            hash TEXT PRIMARY KEY,
            id TEXT NOT NULL,
            version TEXT NOT NULL,
            content_json TEXT NOT NULL
        );
        CREATE TABLE workspace (
            id TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        INSERT INTO workspace (id, created_at)
            VALUES (lower(hex(randomblob(16))), strftime('%Y-%m-%dT%H:%M:%SZ', 'now'));
        CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            cycle_id INTEGER REFERENCES cycles(id),
            kind TEXT NOT NULL,
            detail_json TEXT NOT NULL
        );
        """,
    ),
    (
        2,
        "returns, answers, RI monitoring and escalations",
        """
        CREATE TABLE returns (
            id INTEGER PRIMARY KEY,
            allocation_id INTEGER NOT NULL REFERENCES allocations(id),
            kind TEXT NOT NULL CHECK (kind IN ('audit', 'self_reflection')),
            file_name TEXT NOT NULL,
            file_sha256 TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            received_at TEXT NOT NULL,
            replaced_at TEXT,
            grade TEXT,
            fields_json TEXT NOT NULL,
            warnings_json TEXT NOT NULL
        );
        CREATE UNIQUE INDEX returns_one_current ON returns(allocation_id, kind)
            WHERE replaced_at IS NULL;
        CREATE INDEX returns_file ON returns(file_sha256);
        CREATE TABLE answers (
            return_id INTEGER NOT NULL REFERENCES returns(id),
            question_id TEXT NOT NULL,
            aspect TEXT NOT NULL,
            answer TEXT NOT NULL CHECK (answer IN ('Yes', 'No', 'N/A')),
            comment TEXT NOT NULL,
            PRIMARY KEY (return_id, question_id)
        );
        CREATE TABLE ri_items (
            id INTEGER PRIMARY KEY,
            allocation_id INTEGER NOT NULL UNIQUE REFERENCES allocations(id),
            opened_at TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('open', 'closed', 'withdrawn')),
            closed_at TEXT,
            note TEXT NOT NULL DEFAULT ''
        );
        CREATE TABLE ri_steps (
            id INTEGER PRIMARY KEY,
            ri_id INTEGER NOT NULL REFERENCES ri_items(id),
            step TEXT NOT NULL,
            done_on TEXT NOT NULL,
            note TEXT NOT NULL,
            recorded_at TEXT NOT NULL
        );
        CREATE TABLE escalations (
            id INTEGER PRIMARY KEY,
            return_id INTEGER NOT NULL UNIQUE REFERENCES returns(id),
            escalated_to TEXT NOT NULL,
            manager_name TEXT NOT NULL,
            escalated_on TEXT NOT NULL,
            note TEXT NOT NULL
        );
        """,
    ),
    (
        3,
        "moderation samples, items and outcomes",
        """
        CREATE TABLE moderation_samples (
            id INTEGER PRIMARY KEY,
            cycle_id INTEGER NOT NULL REFERENCES cycles(id),
            seed INTEGER NOT NULL,
            rate REAL NOT NULL,
            blind INTEGER NOT NULL,
            created_at TEXT NOT NULL,
            replaced_at TEXT
        );
        CREATE UNIQUE INDEX moderation_one_current ON moderation_samples(cycle_id)
            WHERE replaced_at IS NULL;
        CREATE TABLE moderation_items (
            id INTEGER PRIMARY KEY,
            sample_id INTEGER NOT NULL REFERENCES moderation_samples(id),
            position INTEGER NOT NULL,
            return_id INTEGER NOT NULL REFERENCES returns(id),
            UNIQUE (sample_id, position),
            UNIQUE (sample_id, return_id)
        );
        CREATE TABLE moderation_outcomes (
            id INTEGER PRIMARY KEY,
            item_id INTEGER NOT NULL REFERENCES moderation_items(id),
            moderated_grade TEXT NOT NULL,
            constructive TEXT NOT NULL,
            names_strengths TEXT NOT NULL,
            names_learning TEXT NOT NULL,
            theme TEXT NOT NULL,
            comments TEXT NOT NULL,
            learning TEXT NOT NULL,
            file_name TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            recorded_at TEXT NOT NULL,
            replaced_at TEXT
        );
        CREATE UNIQUE INDEX moderation_outcome_current ON moderation_outcomes(item_id)
            WHERE replaced_at IS NULL;
        CREATE VIEW audit_grades AS
            SELECT r.id AS return_id, r.allocation_id, r.grade AS auditor_grade,
                   o.moderated_grade, COALESCE(o.moderated_grade, r.grade) AS grade_of_record
            FROM returns r
            LEFT JOIN moderation_items i ON i.return_id = r.id AND i.sample_id IN
                (SELECT id FROM moderation_samples WHERE replaced_at IS NULL)
            LEFT JOIN moderation_outcomes o ON o.item_id = i.id AND o.replaced_at IS NULL
            WHERE r.kind = 'audit' AND r.replaced_at IS NULL;
        """,
    ),
    (
        4,
        "current allocations view",
        """
        CREATE VIEW current_allocations AS
            SELECT a.*, c.id AS cycle_id, c.name AS cycle, c.due_date AS due_date,
                   c.date_to AS cycle_end
            FROM allocations a JOIN draws d ON d.id = a.draw_id
            JOIN cycles c ON c.id = d.cycle_id
            WHERE d.replaced_at IS NULL;
        """,
    ),
    (
        5,
        "moderation rounds",
        """
        ALTER TABLE moderation_items ADD COLUMN round INTEGER NOT NULL DEFAULT 1;
        CREATE TABLE moderation_rounds (
            id INTEGER PRIMARY KEY,
            sample_id INTEGER NOT NULL REFERENCES moderation_samples(id),
            round INTEGER NOT NULL,
            seed INTEGER NOT NULL,
            rate REAL NOT NULL,
            returned INTEGER NOT NULL,
            created_at TEXT NOT NULL,
            UNIQUE (sample_id, round)
        );
        INSERT INTO moderation_rounds (sample_id, round, seed, rate, returned, created_at)
            SELECT id, 1, seed, rate, 0, created_at FROM moderation_samples;
        """,
    ),
    (
        6,
        "who did what: event actors and references, RI history, escalation outcomes",
        """
        ALTER TABLE events ADD COLUMN actor TEXT NOT NULL DEFAULT '';
        ALTER TABLE events ADD COLUMN reference TEXT;
        CREATE INDEX events_reference ON events(reference);
        ALTER TABLE ri_steps ADD COLUMN actor TEXT NOT NULL DEFAULT '';
        CREATE TABLE ri_history (
            id INTEGER PRIMARY KEY,
            ri_id INTEGER NOT NULL REFERENCES ri_items(id),
            at TEXT NOT NULL,
            action TEXT NOT NULL,
            actor TEXT NOT NULL,
            note TEXT NOT NULL
        );
        INSERT INTO ri_history (ri_id, at, action, actor, note)
            SELECT id, opened_at, 'opened', '', '' FROM ri_items;
        INSERT INTO ri_history (ri_id, at, action, actor, note)
            SELECT id, closed_at, status, '', note FROM ri_items WHERE status != 'open';
        ALTER TABLE escalations ADD COLUMN closed_at TEXT;
        ALTER TABLE escalations ADD COLUMN outcome TEXT NOT NULL DEFAULT '';
        ALTER TABLE escalations ADD COLUMN closed_by TEXT NOT NULL DEFAULT '';
        """,
    ),
    (
        7,
        "cancelled cycles",
        """
        ALTER TABLE cycles ADD COLUMN cancelled_at TEXT;
        ALTER TABLE cycles ADD COLUMN cancel_reason TEXT NOT NULL DEFAULT '';
        """,
    ),
    (
        8,
        "signed forms and the work type as exported",
        """
        ALTER TABLE allocations ADD COLUMN work_type TEXT NOT NULL DEFAULT '';
        ALTER TABLE draws ADD COLUMN signed INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE workspace ADD COLUMN signing_key TEXT;
        UPDATE workspace SET signing_key = lower(hex(randomblob(32)));
        DROP VIEW current_allocations;
        CREATE VIEW current_allocations AS
            SELECT a.*, c.id AS cycle_id, c.name AS cycle, c.due_date AS due_date,
                   c.date_to AS cycle_end, d.signed AS signed
            FROM allocations a JOIN draws d ON d.id = a.draw_id
            JOIN cycles c ON c.id = d.cycle_id
            WHERE d.replaced_at IS NULL;
        """,
    ),
    (
        9,
        "the people loop: staff, named auditors, messages, feedback",
        """
        CREATE TABLE staff (
            worker_id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            email TEXT NOT NULL DEFAULT '',
            team TEXT NOT NULL DEFAULT '',
            role TEXT NOT NULL DEFAULT '',
            line_manager TEXT NOT NULL DEFAULT '',
            line_manager_email TEXT NOT NULL DEFAULT '',
            service_manager TEXT NOT NULL DEFAULT '',
            service_manager_email TEXT NOT NULL DEFAULT '',
            source TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE auditor_assignments (
            id INTEGER PRIMARY KEY,
            allocation_id INTEGER NOT NULL REFERENCES allocations(id),
            auditor_name TEXT NOT NULL,
            auditor_email TEXT NOT NULL DEFAULT '',
            auditor_role TEXT NOT NULL DEFAULT '',
            allocated_on TEXT,
            file_name TEXT NOT NULL,
            file_sha256 TEXT NOT NULL,
            received_at TEXT NOT NULL,
            replaced_at TEXT,
            warnings_json TEXT NOT NULL DEFAULT '[]'
        );
        CREATE UNIQUE INDEX auditor_assignments_one_current
            ON auditor_assignments(allocation_id) WHERE replaced_at IS NULL;
        CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            cycle_id INTEGER REFERENCES cycles(id),
            kind TEXT NOT NULL,
            about TEXT NOT NULL,
            recipients TEXT NOT NULL,
            cc TEXT NOT NULL DEFAULT '',
            subject TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            message_id TEXT NOT NULL UNIQUE,
            route TEXT NOT NULL CHECK (route IN ('draft', 'smtp')),
            path TEXT,
            at TEXT NOT NULL,
            actor TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX messages_about ON messages(cycle_id, kind, about);
        CREATE TABLE feedback (
            id INTEGER PRIMARY KEY,
            allocation_id INTEGER NOT NULL REFERENCES allocations(id),
            held_on TEXT NOT NULL,
            note TEXT NOT NULL DEFAULT '',
            recorded_at TEXT NOT NULL,
            actor TEXT NOT NULL DEFAULT ''
        );
        """,
    ),
    (
        10,
        "the emails a case export gives for the practitioner and the Service Manager",
        """
        ALTER TABLE allocations ADD COLUMN worker_email TEXT NOT NULL DEFAULT '';
        ALTER TABLE allocations ADD COLUMN service_manager_email TEXT NOT NULL DEFAULT '';
        DROP VIEW current_allocations;
        CREATE VIEW current_allocations AS
            SELECT a.*, c.id AS cycle_id, c.name AS cycle, c.due_date AS due_date,
                   c.date_to AS cycle_end, d.signed AS signed
            FROM allocations a JOIN draws d ON d.id = a.draw_id
            JOIN cycles c ON c.id = d.cycle_id
            WHERE d.replaced_at IS NULL;
        """,
    ),
    (
        11,
        "the year's plan of cycles",
        """
        CREATE TABLE planned_cycles (
            id INTEGER PRIMARY KEY,
            year TEXT NOT NULL,
            position INTEGER NOT NULL,
            name TEXT NOT NULL,
            date_from TEXT NOT NULL,
            date_to TEXT NOT NULL,
            due_date TEXT NOT NULL,
            weeks INTEGER NOT NULL,
            created_at TEXT NOT NULL,
            actor TEXT NOT NULL DEFAULT '',
            replaced_at TEXT
        );
        CREATE UNIQUE INDEX planned_cycles_one_current
            ON planned_cycles(name) WHERE replaced_at IS NULL;
        CREATE INDEX planned_cycles_year ON planned_cycles(year, position);
        """,
    ),
    (
        12,
        "deep dives and re-audits: a cycle's kind, a deep dive's terms, what a re-audit follows up",
        """
        ALTER TABLE cycles ADD COLUMN kind TEXT NOT NULL DEFAULT 'regular'
            CHECK (kind IN ('regular', 'deep_dive', 'reaudit'));
        CREATE TABLE deep_dives (
            cycle_id INTEGER PRIMARY KEY REFERENCES cycles(id),
            title TEXT NOT NULL,
            purpose TEXT NOT NULL,
            understand TEXT NOT NULL,
            method TEXT NOT NULL,
            directed_by TEXT NOT NULL DEFAULT '',
            terms_sha256 TEXT NOT NULL,
            question_set TEXT NOT NULL,
            filters_json TEXT NOT NULL,
            size INTEGER NOT NULL,
            blocks_later_draws INTEGER NOT NULL,
            created_at TEXT NOT NULL,
            actor TEXT NOT NULL DEFAULT ''
        );
        ALTER TABLE allocations ADD COLUMN follows_up TEXT NOT NULL DEFAULT '';
        ALTER TABLE allocations ADD COLUMN drawn_because TEXT NOT NULL DEFAULT '';
        ALTER TABLE allocations ADD COLUMN follows_up_id INTEGER REFERENCES allocations(id);
        CREATE INDEX allocations_follows_up ON allocations(follows_up) WHERE follows_up != '';
        CREATE INDEX allocations_follows_up_id ON allocations(follows_up_id)
            WHERE follows_up_id IS NOT NULL;
        DROP VIEW current_allocations;
        CREATE VIEW current_allocations AS
            SELECT a.*, c.id AS cycle_id, c.name AS cycle, c.due_date AS due_date,
                   c.date_to AS cycle_end, d.signed AS signed, c.kind AS cycle_kind
            FROM allocations a JOIN draws d ON d.id = a.draw_id
            JOIN cycles c ON c.id = d.cycle_id
            WHERE d.replaced_at IS NULL;
        """,
    ),
    (
        13,
        "audit-the-auditor workshops: their cases, participants and grades",
        """
        CREATE TABLE workshops (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            held_on TEXT NOT NULL,
            from_cycle_id INTEGER REFERENCES cycles(id),
            seed INTEGER NOT NULL,
            created_at TEXT NOT NULL,
            actor TEXT NOT NULL DEFAULT ''
        );
        CREATE UNIQUE INDEX workshops_name ON workshops(name COLLATE NOCASE);
        CREATE TABLE workshop_participants (
            workshop_id INTEGER NOT NULL REFERENCES workshops(id),
            position INTEGER NOT NULL,
            label TEXT NOT NULL,
            name TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (workshop_id, position),
            UNIQUE (workshop_id, label)
        );
        CREATE TABLE workshop_cases (
            id INTEGER PRIMARY KEY,
            workshop_id INTEGER NOT NULL REFERENCES workshops(id),
            position INTEGER NOT NULL,
            label TEXT NOT NULL,
            return_id INTEGER NOT NULL REFERENCES returns(id),
            allocation_id INTEGER NOT NULL REFERENCES allocations(id),
            UNIQUE (workshop_id, position)
        );
        CREATE TABLE workshop_grades (
            id INTEGER PRIMARY KEY,
            workshop_id INTEGER NOT NULL REFERENCES workshops(id),
            participant TEXT NOT NULL,
            case_id INTEGER NOT NULL REFERENCES workshop_cases(id),
            grade TEXT NOT NULL,
            note TEXT NOT NULL DEFAULT '',
            file_name TEXT NOT NULL,
            file_sha256 TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            received_at TEXT NOT NULL,
            replaced_at TEXT
        );
        CREATE UNIQUE INDEX workshop_grades_one_current
            ON workshop_grades(case_id, participant) WHERE replaced_at IS NULL;
        CREATE INDEX workshop_grades_of ON workshop_grades(workshop_id, participant);
        """,
    ),
    (
        14,
        "indexes for ingest: allocations by reference, every return of an allocation",
        """
        CREATE INDEX allocations_reference ON allocations(reference);
        CREATE INDEX returns_allocation ON returns(allocation_id, kind);
        """,
    ),
    (
        15,
        "retention: the cycles and workshops whose personal data was purged",
        """
        CREATE TABLE purged_cycles (
            cycle_id INTEGER PRIMARY KEY REFERENCES cycles(id),
            before TEXT NOT NULL,
            purged_at TEXT NOT NULL,
            actor TEXT NOT NULL DEFAULT ''
        );
        CREATE TABLE purged_workshops (
            workshop_id INTEGER PRIMARY KEY REFERENCES workshops(id),
            before TEXT NOT NULL,
            purged_at TEXT NOT NULL,
            actor TEXT NOT NULL DEFAULT ''
        );
        """,
    ),
    (
        16,
        "retention: the persons and records of purged audits, unlinked, so none is drawn again",
        # Only the keyed pseudonym of each (the workspace's key) and its kind: no cycle,
        # date or grade, and no rowid whose order would tell when it was added. Filled from
        # the cycles an earlier qaudit purged, whose rows hold these very pseudonyms.
        """
        CREATE TABLE purged_audited (
            kind TEXT NOT NULL CHECK (kind IN ('person', 'record')),
            pseudonym TEXT NOT NULL,
            PRIMARY KEY (kind, pseudonym)
        ) WITHOUT ROWID;
        INSERT OR IGNORE INTO purged_audited (kind, pseudonym)
            SELECT 'person', person_id FROM current_allocations
            WHERE cycle_id IN (SELECT cycle_id FROM purged_cycles) AND person_id != ''
            AND cycle_id NOT IN (SELECT cycle_id FROM deep_dives WHERE blocks_later_draws = 0)
            UNION ALL
            SELECT 'record', record_id FROM current_allocations
            WHERE cycle_id IN (SELECT cycle_id FROM purged_cycles) AND record_id != ''
            AND cycle_id NOT IN (SELECT cycle_id FROM deep_dives WHERE blocks_later_draws = 0);
        -- A moderation workbook's history entry names its cycle from now on. One written
        -- before is given the cycle of the latest outcome recorded by then (its file name,
        -- which may name a person, is then blanked by the next purge of that cycle).
        UPDATE events SET cycle_id = (
            SELECT s.cycle_id FROM moderation_outcomes o
            JOIN moderation_items i ON i.id = o.item_id
            JOIN moderation_samples s ON s.id = i.sample_id
            WHERE o.recorded_at <= events.at
            ORDER BY o.recorded_at DESC, o.id DESC LIMIT 1)
        WHERE kind = 'moderation_outcomes' AND cycle_id IS NULL;
        """,
    ),
    (
        17,
        "the files qaudit wrote into the workspace folder, with their hashes",
        # One current row per path (relative to the workspace, posix), a file written
        # again, a change accepted or a filled file taken back superseding the row before
        # it. No name is in a path (layout), and a purge deletes its cycles' rows.
        """
        CREATE TABLE issued_files (
            id INTEGER PRIMARY KEY,
            path TEXT NOT NULL,
            kind TEXT NOT NULL,
            cycle_id INTEGER REFERENCES cycles(id),
            workshop_id INTEGER REFERENCES workshops(id),
            sha256 TEXT NOT NULL,
            size INTEGER NOT NULL,
            how TEXT NOT NULL DEFAULT 'written'
                CHECK (how IN ('written', 'accepted', 'gone', 'returned')),
            written_at TEXT NOT NULL,
            actor TEXT NOT NULL DEFAULT '',
            replaced_at TEXT
        );
        CREATE UNIQUE INDEX issued_files_one_current
            ON issued_files(path) WHERE replaced_at IS NULL;
        CREATE INDEX issued_files_of_cycle ON issued_files(cycle_id, kind)
            WHERE replaced_at IS NULL;
        CREATE INDEX issued_files_of_workshop ON issued_files(workshop_id)
            WHERE replaced_at IS NULL;
        """,
    ),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]
