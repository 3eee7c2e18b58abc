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

size_t stats_collect(const struct daemon *d, struct stat_item *v, size_t max)
{
	const struct mx_stats *s = mx_stats(d->mx);
	const struct nfqueue_stats none = {0};
	const struct nfqueue_stats *q = d->q ? nfqueue_stats(d->q) : &none;
	const struct pflog_stats *pf = d->pf ? pflog_stats(d->pf) : NULL;
	const struct rdns_stats *r = d->rdns ? rdns_stats(d->rdns) : NULL;
	const struct stat_item all[] = {
	    {"dropped", s->dropped},
	    {"accepted", s->accepted},
	    {"fake-hits", s->fake_hits},
	    {"rdns-siblings", s->rdns_siblings},
	    {"fake-only", s->fake_only},
	    {"entries", whitelist_size(mx_whitelist(d->mx))},
	    {"malformed", pf ? pf->malformed : q->malformed},
	    {"enobufs", q->enobufs},
	    {"expired", s->expired},
	    {"evicted", s->evicted},
	    {"rdns-unconfirmed", s->rdns_unconfirmed},
	    {"rdns-skipped", d->rdns_skipped},
	    {"ignored", pf ? pf->ignored : q->ignored},
	    {"table-errors", pf ? pf->table_errors : 0},
	    {"truncated", q->truncated},
	    {"send-errors", q->send_errors},
	    {"ack-errors", q->ack_errors},
	    {"rdns-skipped-rate", r ? r->skipped_rate : 0},
	    {"rdns-negcache-hits", s->rdns_negcache_hits},
	    {"rdns-skipped-evicting", s->rdns_skipped_evicting},
	    {"rdns-failed", s->rdns_failed},
	    {"rdns-no-name", s->rdns_no_name},
	    {"table-refused", pf ? pf->table_refused : 0},
	    {"table-resyncs", pf ? pf->table_resyncs : 0},
	    {"table-healed", pf ? pf->table_healed : 0},
	    {"capture-drops", d->capture_drops},
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
