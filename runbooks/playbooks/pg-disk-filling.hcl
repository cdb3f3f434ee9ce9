# Incident playbook: a PostgreSQL server's disk is filling up.
#
#   runbook exec runbooks/playbooks/pg-disk-filling.hcl --playbook pg_disk_filling \
#     --var pg_dsn=… --var data_dir=/var/lib/postgresql
#
# It records what fills the disk (usage and inodes, WAL, the biggest
# relations, stale replication slots, long transactions) as informational
# steps: evidence that never fails the run. Then, behind a confirmation, it
# drops the stale replication slots that hold WAL back, asks for a
# CHECKPOINT so PostgreSQL can recycle that WAL, and polls the disk until
# usage is back under the threshold. If it is not, the last step escalates
# to a person.

runbook "pg-disk-filling" {
  title = "PostgreSQL disk filling up — incident playbook"
  owner = "dba"
  tags  = ["playbook", "postgres", "disk"]
}

variable "pg_dsn" {
  type        = string
  sensitive   = true
  description = "The PostgreSQL server, as a superuser or a pg_monitor + pg_checkpoint role (postgres://user:password@host:5432/db)"
}

variable "data_dir" {
  type        = string
  default     = "/var/lib/postgresql"
  description = "A path on the file system that holds the data directory"
}

variable "thresholds" {
  type = object({
    disk_percent      = optional(number, 85) # usage that counts as full
    inode_percent     = optional(number, 85)
    slot_retained_mb  = optional(number, 1024) # WAL an inactive slot may hold back
    long_xact_minutes = optional(number, 30)   # a transaction open this long is long
  })
  default     = {}
  description = "When the disk is full and a slot or a transaction is a suspect; give only what you change"
}

variable "slot_name_like" {
  type        = string
  default     = "%"
  description = "Only slots whose name matches this LIKE pattern are suspects (and dropped)"
}

variable "recheck" {
  type = object({
    attempts = optional(number, 10)
    interval = optional(string, "30s")
  })
  default     = {}
  description = "How often, and how many times, the re-check polls the disk"
}

check "disk_space" {
  title = "Disk space"
  disk {
    path = var.data_dir
  }
  assert {
    condition     = self.used_percent < var.thresholds.disk_percent
    error_message = "the disk holding ${var.data_dir} is ${self.used_percent}% full (threshold ${var.thresholds.disk_percent}%)"
  }
}

check "disk_inodes" {
  title = "Disk inodes"
  disk {
    path = var.data_dir
  }
  assert {
    condition     = self.inodes_used_percent < var.thresholds.inode_percent
    error_message = "${self.inodes_used_percent}% of the inodes are in use (threshold ${var.thresholds.inode_percent}%)"
  }
}

playbook "pg_disk_filling" {
  title   = "PostgreSQL disk filling up"
  trigger = check.disk_space

  # --- What fills the disk: evidence, never a reason to stop ---------------

  step "usage" {
    title         = "Disk usage and inodes"
    expected      = "both below their thresholds"
    checks        = [check.disk_space, check.disk_inodes]
    informational = true
  }

  step "wal" {
    title         = "WAL on disk"
    expected      = "the WAL directory's size, for the record"
    informational = true
    sql {
      dsn   = var.pg_dsn
      query = "SELECT count(*) AS files, coalesce(sum(size), 0) AS bytes FROM pg_ls_waldir()"
    }
  }

  step "biggest_relations" {
    title         = "Ten biggest relations"
    expected      = "the relations taking the most room, for the record"
    informational = true
    sql {
      dsn   = var.pg_dsn
      query = <<-SQL
        SELECT n.nspname AS schema, c.relname AS relation,
               pg_total_relation_size(c.oid) AS bytes,
               pg_size_pretty(pg_total_relation_size(c.oid)) AS size
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'm', 't')
        ORDER BY pg_total_relation_size(c.oid) DESC
        LIMIT 10
      SQL
    }
  }

  step "stale_slots" {
    title         = "Stale replication slots"
    expected      = "no inactive slot holds back more WAL than the threshold"
    informational = true
    sql {
      dsn   = var.pg_dsn
      query = <<-SQL
        SELECT slot_name, slot_type,
               coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn), 0)::bigint AS retained_bytes
        FROM pg_replication_slots
        WHERE NOT active AND slot_name LIKE $1
          AND coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn), 0) >= $2::bigint * 1024 * 1024
        ORDER BY retained_bytes DESC
      SQL
      args  = [var.slot_name_like, var.thresholds.slot_retained_mb]
    }
    assert {
      condition     = self.row_count == 0
      error_message = "${self.row_count} inactive ${self.row_count == 1 ? "slot holds" : "slots hold"} WAL back: ${join(", ", [for r in self.rows : "${r.slot_name} (${floor(r.retained_bytes / 1048576)} MB)"])}"
    }
  }

  step "long_transactions" {
    title         = "Long transactions"
    expected      = "no transaction open longer than the threshold"
    informational = true
    sql {
      dsn   = var.pg_dsn
      query = <<-SQL
        SELECT pid, usename AS user, state,
               floor(extract(epoch FROM now() - xact_start))::bigint AS open_s,
               left(query, 120) AS query
        FROM pg_stat_activity
        WHERE xact_start < now() - make_interval(mins => $1::int) AND pid <> pg_backend_pid()
        ORDER BY xact_start
      SQL
      args  = [var.thresholds.long_xact_minutes]
    }
    assert {
      condition     = self.row_count == 0
      error_message = "${self.row_count} transactions open for more than ${var.thresholds.long_xact_minutes} minutes: pids ${join(", ", [for r in self.rows : tostring(r.pid)])}"
    }
  }

  # --- The fix -----------------------------------------------------------------

  step "drop_slots" {
    title    = "Drop the stale replication slots"
    expected = "every stale slot found is dropped; its standby or consumer must be rebuilt"
    when     = step.stale_slots.row_count > 0
    confirm  = true
    sql {
      dsn       = var.pg_dsn
      read_only = false
      query     = <<-SQL
        SELECT s.slot_name
        FROM pg_replication_slots s, LATERAL pg_drop_replication_slot(s.slot_name)
        WHERE s.slot_name = ANY($1) AND NOT s.active
      SQL
      args      = [[for r in step.stale_slots.rows : r.slot_name]]
    }
    assert {
      condition     = self.row_count == step.stale_slots.row_count
      error_message = "dropped ${self.row_count} of ${step.stale_slots.row_count} slots: one became active, or is gone"
    }
  }

  step "checkpoint" {
    title    = "Checkpoint"
    expected = "CHECKPOINT completes, so PostgreSQL can recycle the WAL it no longer needs"
    timeout  = "10m"
    sql {
      dsn       = var.pg_dsn
      read_only = false
      query     = "CHECKPOINT"
    }
  }

  step "recheck" {
    title    = "Disk usage back under the threshold"
    expected = "usage and inodes below their thresholds within the re-check's attempts"
    timeout  = "30m"
    disk {
      path = var.data_dir
    }
    retry {
      until    = self.used_percent < var.thresholds.disk_percent && self.inodes_used_percent < var.thresholds.inode_percent
      attempts = var.recheck.attempts
      interval = var.recheck.interval
    }
    on_failure = "continue"
  }

  step "escalate" {
    title    = "Escalate to the DBA on call"
    expected = "the DBA on call has this run's record and owns the incident"
    when     = step.recheck.status != "passed"
    manual {
      instructions = <<-EOT
        The disk is still above the threshold after the fix. Page the DBA on
        call, give them this run's record (runbook show), and do not delete
        files from the data directory by hand.
      EOT
    }
  }
}
