// Package golden compares golden JSON files with their replays and sorts
// every difference into a class that says what kind of problem it is.
//
// A shadow run executes each workflow twice, the primary run and a replay,
// and writes the JSON output of each ("golden file"). A deterministic
// workflow gives byte-for-byte the same document twice, up to key order and
// number spelling. When it does not, the difference is either a real
// determinism bug or a volatile field (a timestamp, a duration) that leaked
// into the golden output. The Comparer flattens both documents to paths
// (`steps[3].output.status`), compares them field by field and classifies
// each difference:
//
//   - VOLATILE_LEAK: the field is volatile by pattern, by name (`*_at`,
//     `duration*`, …) or because both values are timestamps (warning);
//   - SEED_MISMATCH: the seed differs, so the pair is not comparable
//     (critical; the pair's other differences hang under it);
//   - EXTERNAL_CALL_VARIATION: the field lies under an external call's
//     response (warning);
//   - UNSEEDED_RNG: both values look random: UUIDs, long hex or base64,
//     random floats (critical);
//   - DETERMINISM_VIOLATION: any other difference (critical);
//   - MISSING, EXTRA, UNREADABLE: for directories, a file without its
//     replay, a replay without its file, and a file that is not JSON.
//
// Pairs lists the pairs of two directories (or of one directory under a
// PairRule such as `{id}.json:{id}.replay.json`); Comparer.Scan compares
// them with a bounded pool of workers and hands the results over in order,
// one pair at a time, so memory stays bounded however many files a shadow
// run left. Tally, Summary and ReportWriter aggregate the results.
package golden
