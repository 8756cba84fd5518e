// Package anchor keeps related tokens on one executor. It holds two bounded
// tables, both safe for concurrent use and allocation-free on lookup:
//
//   - [Sticky] pins a key (xxhash64 of an op name and a canonical encoding of
//     the argument, see [Encoder]) to the executor that first ran it. A pin counts
//     its tokens in flight and is evicted only when none are in flight and it has
//     been idle longer than a TTL. The table has a hard cap: when it is full, a
//     new key gets no entry and is placed by rendezvous hashing over the eligible
//     executors instead, so memory stays bounded whatever the key stream.
//     While a token placed so is in flight, a key that gets a pin is pinned
//     where hashing put it, since its hashed tokens may still be queued there.
//   - [Seeds] anchors a lead token and every child it spawns to one executor. A
//     seed is SHA-256 of the lead's token id, ":" and a canonical encoding of the
//     external call names; its pending count starts at 1 for the lead, goes up
//     before each child is enqueued and down once at every terminal outcome, and
//     the seed is released at zero. Tokens carry their seed, so the table keeps
//     no entries, only the count of live seeds: past its cap new leads run
//     unanchored and a counter says how often.
//
// Placement precedence (seed, then sticky pin, then staggered selection) is the
// router's; this package only keeps the tables.
package anchor
