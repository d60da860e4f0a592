// Package bench holds the benchmarks behind "ward bench": each runs a
// workload on this machine and writes its results to an io.Writer as JSON
// lines, one per measured set, and what it is doing (generating data,
// waiting for triage) as plain lines to a progress writer.
//
//   - [Hash] hashes images as "ward hash" does, from a directory or from
//     generated 1024x768 JPEGs and 512x512 PNGs. images_per_s is the rate
//     over the whole run on Workers goroutines; read_, decode_ and
//     hash_ms_per_image are time per image summed over workers, so
//     cpu_ms_per_image is their sum and one_core_images_per_s what one core
//     would do.
//   - [Match] builds a Hamming index of N synthetic PDQ hashes
//     (hashindex.RunBench). build_s and mem_bytes are the build's time and
//     heap growth; p50_us and p99_us the latency of one query at a time;
//     qps the throughput on workers goroutines; recall is against a
//     brute-force scan (brute_p50_us), 1 when the index misses nothing.
//   - [HTTP] sends POST /v1/match requests of Items hashes from Concurrency
//     connections to the API served on a loopback port: items_per_s,
//     p50_ms and p99_ms per request, matched_items (about half the items
//     are near-duplicates of indicators) and errors.
//   - [Intake] submits reports through real HTTP to a server started by a
//     [StartServer] (or a running one): per kind, hash-only then with a
//     file, reports_per_s counts a report once its last request is
//     answered, when it is durably committed; p50_ms and p99_ms are per
//     report; triaged_per_s (servers started here only) is reports divided
//     by the time from the first submission until triage caught up, so
//     close to reports_per_s when triage keeps up with intake.
//
// Timings depend on the machine and what else runs on it: compare runs
// made on the same machine, and read errors (and recall) first, since a
// run with errors measured something else.
package bench
