/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The stats line (SIGUSR1): every counter that can show a failure, by name. */
#include <inttypes.h>

#include "daemon.h"
#include "log.h"
#include "nfqueue.h"
#include "pflog.h"

void stats_log(struct daemon *d)
{
	const struct mx_stats *s = mx_stats(d->mx);
	struct nfqueue_stats none = {0};
	const struct nfqueue_stats *q = d->q ? nfqueue_stats(d->q) : &none;
	uint64_t table_errors = 0;

	if (d->pf) {
		none.malformed = pflog_stats(d->pf)->malformed;
		none.ignored = pflog_stats(d->pf)->ignored;
		table_errors = pflog_stats(d->pf)->table_errors;
	}
	log_msg(LOG_NOTICE | LOG_FORCE,
	        "stats dropped=%" PRIu64 " accepted=%" PRIu64 " fake-hits=%" PRIu64
	        " rdns-siblings=%" PRIu64 " fake-only=%" PRIu64 " entries=%zu malformed=%" PRIu64
	        " enobufs=%" PRIu64 " expired=%" PRIu64 " evicted=%" PRIu64
	        " rdns-unconfirmed=%" PRIu64 " rdns-skipped=%" PRIu64 " ignored=%" PRIu64
	        " table-errors=%" PRIu64 " send-errors=%" PRIu64,
	        s->dropped, s->accepted, s->fake_hits, s->rdns_siblings, s->fake_only,
	        whitelist_size(mx_whitelist(d->mx)), q->malformed, q->enobufs, s->expired,
	        s->evicted, s->rdns_unconfirmed, d->rdns_skipped, q->ignored, table_errors,
	        q->send_errors);
}
