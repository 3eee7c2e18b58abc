/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The counters, by name: one list for the stats line (SIGUSR1) and for any
 * other reader (metrics). Every counter that can show a failure is here; a
 * counter nobody reads hides one.
 */
#include <inttypes.h>
#include <stdio.h>

#include "daemon.h"
#include "log.h"
#include "nfqueue.h"
#include "pflog.h"
#include "resolve.h"
#include "redis.h"
#include "state.h"

size_t stats_collect(const struct daemon *d, struct stat_item *v, size_t max)
{
	const struct mx_stats *s = mx_stats(d->mx);
	const struct nfqueue_stats none = {0};
	const struct nfqueue_stats *q = d->q ? nfqueue_stats(d->q) : &none;
	const struct pflog_stats *pf = d->pf ? pflog_stats(d->pf) : NULL;
	/* The kernel table: table mode's, or hybrid mode's beside the queue. */
	const struct pflog_stats *tb = d->table ? pflog_stats(d->table) : NULL;
	const struct rdns_stats *r = d->rdns ? rdns_stats(d->rdns) : NULL;
	struct state_stats st;
	/* The shared whitelist: all 0 without redis. */
	const struct redis_stats rnone = {0};
	const struct redis_stats *rs = d->redis ? redis_stats(d->redis) : &rnone;

	state_stats(d->state, daemon_now(), &st); /* all 0 without a state file */
	const struct stat_item all[] = {
	    {"dropped", s->dropped, "Real-MX connections dropped: the client was not whitelisted."},
	    {"accepted", s->accepted,
	     "Real-MX connections accepted: whitelisted, or in a static network."},
	    {"fake-hits", s->fake_hits, "Connections to a fake MX."},
	    {"rdns-siblings", s->rdns_siblings,
	     "Whitelist entries added as forward-confirmed rDNS siblings."},
	    {"fake-only", s->fake_only,
	     "Fake-MX clients whose entry ended without one real-MX connection."},
	    {"entries", whitelist_size(mx_whitelist(d->mx)), "Whitelist entries now.", true,
	     "whitelist_entries"},
	    {"malformed", pf ? pf->malformed : q->malformed,
	     "Queued packets or log records whose addresses could not be read."},
	    {"enobufs", q->enobufs,
	     "Receive buffer overruns (ENOBUFS): queued packets the kernel could not hand over."},
	    {"expired", s->expired, "Whitelist entries that expired."},
	    {"evicted", s->evicted, "Whitelist entries evicted to make room in a full whitelist."},
	    {"rdns-unconfirmed", s->rdns_unconfirmed,
	     "PTR names that did not resolve back to the client."},
	    {"rdns-skipped", d->rdns_skipped,
	     "rDNS lookups not started: too many under way, or over rdns-rate."},
	    {"ignored", pf ? pf->ignored : q->ignored,
	     "Queued packets or log records that were not SYNs to port 25."},
	    {"table-errors", tb ? tb->table_errors : 0,
	     "Failed commits and resyncs of the kernel table."},
	    {"truncated", q->truncated,
	     "Queued packets cut off before the TCP header (judged on their addresses)."},
	    {"send-errors", q->send_errors,
	     "Failed sends of verdicts to the kernel, retries included."},
	    {"ack-errors", q->ack_errors, "Error acknowledgements of verdicts from the kernel."},
	    {"rdns-skipped-rate", r ? r->skipped_rate : 0,
	     "rDNS lookups not started: over rdns-rate."},
	    {"rdns-negcache-hits", s->rdns_negcache_hits,
	     "rDNS lookups not asked: the client was in the negative cache."},
	    {"rdns-skipped-evicting", s->rdns_skipped_evicting,
	     "rDNS lookups not asked: the whitelist was evicting (a flood)."},
	    {"rdns-failed", s->rdns_failed,
	     "rDNS lookups that failed for now (timeout, SERVFAIL)."},
	    {"rdns-no-name", s->rdns_no_name, "rDNS lookups that ended without a usable PTR name."},
	    {"table-refused", tb ? tb->table_refused : 0,
	     "Single kernel table changes the kernel refused."},
	    {"table-resyncs", tb ? tb->table_resyncs : 0,
	     "Reconciliations of the kernel table with the whitelist."},
	    {"table-healed", tb ? tb->table_healed : 0,
	     "Kernel table entries a resync had to add back, remove or re-time."},
	    /* ipset, nft: entries taken over at start; SYNs the ruleset accepted by the set alone.
	     */
	    {"table-adopted", tb ? tb->table_adopted : 0,
	     "Kernel set entries (ipset, nft) taken over at start."},
	    {"kernel-accepted", tb ? tb->kernel_accepted : 0,
	     "SYNs the nft ruleset accepted by its set alone."},
	    {"table-renewed", s->table_renewed,
	     "Renewals on use made by the kernel table's own rule (hybrid mode), learnt from it."},
	    {"capture-drops", d->capture_drops,
	     "Log records the kernel dropped before the capture read them."},
	    {"held", s->held, "SYNs held now, waiting for their client's check.", true},
	    {"held-peak", s->held_peak, "Most SYNs held at once since start.", true},
	    {"hold-expired", s->hold_expired, "Held SYNs dropped at their deadline."},
	    {"hold-accepted", s->hold_accepted, "Held SYNs accepted after their client's check."},
	    {"hold-refused", s->hold_refused,
	     "Held SYNs dropped when their client's check ended without trust."},
	    {"hold-full", s->hold_full, "SYNs dropped at once: hold-max SYNs were held."},
	    {"hold-nocheck", s->hold_nocheck,
	     "SYNs dropped at once: their client's check could not start."},
	    {"stranger-checks", s->stranger_checks,
	     "Lookups started for clients that were not whitelisted."},
	    {"rdns-domain", s->rdns_domain,
	     "Clients whitelisted through a fake-MX member of their domain."},
	    {"trusted", s->trusted, "Clients whitelisted through trust-domain."},
	    {"trust-refused", s->trust_refused, "Checks of clients that ended without trust."},
	    {"trust-members", s->trust_members, "Registrable domains with a fake-MX member now.",
	     true},
	    {"member-generic", s->member_generic,
	     "Fake-MX clients whose names cannot vouch (generic or excluded)."},
	    {"state-saves", st.saves, "Good saves of the state file."},
	    {"state-save-errors", st.save_errors, "Failed saves of the state file."},
	    {"state-age", st.age,
	     "Seconds the state file has been behind the whitelist (0: up to date).", true,
	     "state_age_seconds"},
	    {"entries-loaded", st.loaded, "Whitelist entries loaded from the state file at start.",
	     true, "state_entries_loaded"},
	    {"state-fork-usec", st.fork_usec,
	     "How long the last fork for a state-file save held the loop.", true,
	     "state_fork_seconds", 1000000},
	    {"state-fork-usec-max", st.fork_usec_max,
	     "The longest a fork for a state-file save held the loop since start.", true,
	     "state_fork_max_seconds", 1000000},
	    {"sync-lag-us", rs->lag_us, "Delay of the last peer event from its change on the peer.",
	     true, "sync_lag_seconds", 1000000},
	    {"sync-lag-max-us", rs->lag_max_us, "Longest delay of a peer event since start.", true,
	     "sync_lag_max_seconds", 1000000},
	    {"peer-received", rs->received, "Peers' whitelist entries applied."},
	    {"peer-sent", rs->sent, "Own whitelist changes written to Redis."},
	    {"peer-rejected", rs->rejected, "Peers' values or events refused."},
	    {"peer-clock-skew", rs->skewed,
	     "Peers' deadlines or change times off by more than a clock can be (limited or "
	     "ignored)."},
	    {"peer-node-clash", rs->twins,
	     "Hellos of another mxallowd using this host's node name."},
	    {"redis-connected", rs->connected, "1 while connected and subscribed to Redis.", true},
	    {"redis-reconnects", rs->reconnects, "Connections to Redis made after the first."},
	    {"redis-errors", rs->errors, "Redis connection failures, error replies and stalls."},
	    {"redis-dropped", rs->dropped,
	     "Whitelist changes not written to Redis: the queue was full."},
	    {"capacity", whitelist_capacity(mx_whitelist(d->mx)),
	     "Whitelist capacity (max-entries).", true, "whitelist_capacity"},
	    {"rdns-inflight", d->rdns ? rdns_inflight(d->rdns) : 0, "rDNS lookups under way.",
	     true},
	    {"static-hits", s->static_hits,
	     "Real-MX connections accepted by a static network (allow, allow-file)."},
	    {"static-networks", netset_count(mx_static(d->mx)),
	     "Networks in the static allow lists (allow, allow-file).", true},
	};
	size_t n = sizeof(all) / sizeof(all[0]);

	for (size_t i = 0; i < n && i < max; i++)
		v[i] = all[i];
	return n < max ? n : max;
}

void stats_log(struct daemon *d)
{
	struct stat_item v[STATS_MAX];
	size_t n = stats_collect(d, v, STATS_MAX), off = 0;
	char line[2048];

	line[0] = 0;
	for (size_t i = 0; i < n && off < sizeof(line); i++)
		off += (size_t)snprintf(line + off, sizeof(line) - off, " %s=%" PRIu64, v[i].name,
		                        v[i].value);
	log_msg(LOG_NOTICE | LOG_FORCE, "stats%s", line);
}
