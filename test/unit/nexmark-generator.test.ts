// The Nexmark generator (tools/nexmark/generator.ts) keeps Nexmark's shape: the 1:3:46 mix of people,
// auctions and bids, hot auctions, bidders and sellers, bids on auctions that exist (or are at most
// Nexmark's lead of 10 ids ahead), event times in order at the configured rate, flat events; and the
// same seed gives the same events.
import { describe, expect, it } from "vitest";
import {
  AUCTION_ID_LEAD,
  type AuctionEvent,
  type BidEvent,
  FIRST_AUCTION_ID,
  FIRST_PERSON_ID,
  NEXMARK_DEFAULTS,
  type NexmarkEvent,
  NexmarkGenerator,
  nexmarkLines,
  PERSON_ID_LEAD,
  type PersonEvent,
} from "../../tools/nexmark/generator.ts";

const N = 100_000;
const events: NexmarkEvent[] = [...new NexmarkGenerator().take(N)];
const bids = events.filter((e): e is BidEvent => e.event_type === 2);
const auctions = events.filter((e): e is AuctionEvent => e.event_type === 1);
const people = events.filter((e): e is PersonEvent => e.event_type === 0);

const share = (xs: readonly unknown[], test: (x: never) => boolean) => xs.filter((x) => test(x as never)).length / xs.length;

describe("the Nexmark generator", () => {
  it("mixes people, auctions and bids 1:3:46, interleaved in every run of 50 events", () => {
    // Assess: over many events, and in every window of 50 consecutive events
    expect([people.length, auctions.length, bids.length].map((n) => n / N)).toEqual([
      expect.closeTo(1 / 50, 3),
      expect.closeTo(3 / 50, 3),
      expect.closeTo(46 / 50, 3),
    ]);
    for (let at = 0; at + 50 <= N; at += 4999) {
      const types = events.slice(at, at + 50).map((e) => e.event_type);
      expect([0, 1, 2].map((t) => types.filter((x) => x === t).length)).toEqual([1, 3, 46]);
    }
  });

  it("takes other proportions", () => {
    // Act
    const mix = [...new NexmarkGenerator({ personProportion: 2, auctionProportion: 2, bidProportion: 6 }).take(1000)];

    // Assess
    expect([0, 1, 2].map((t) => mix.filter((e) => e.event_type === t).length)).toEqual([200, 200, 600]);
  });

  it("gives the same events for the same seed, other events for another", () => {
    // Act
    const again = [...nexmarkLines(2000)];
    const other = [...nexmarkLines(2000, { seed: 2 })];

    // Assess
    expect(again).toEqual(events.slice(0, 2000).map((e) => JSON.stringify(e)));
    expect(other).not.toEqual(again);
    // the ids and times come from the event's number, the rest from the seed
    expect(other.map((l) => JSON.parse(l).dateTime)).toEqual(again.map((l) => JSON.parse(l).dateTime));
  });

  it("sends half of the bids to the hot auction and three quarters to the hot bidder", () => {
    // Assess: the hot auction is the first of each batch of 100 auctions (id ≡ 0 mod 100), the hot bidder
    // the second of each 100 people (Nexmark's bidder ids are 2000 + a base-0 person id: ≡ 1 mod 100)
    expect(share(bids, (b: BidEvent) => b.auction % 100 === 0)).toBeCloseTo(1 / 2 + 1 / 2 / 100, 1);
    expect(share(bids, (b: BidEvent) => b.bidder % 100 === 1)).toBeCloseTo(3 / 4 + 1 / 4 / 100, 1);
    expect(share(auctions, (a: AuctionEvent) => a.seller % 100 === 0)).toBeCloseTo(3 / 4 + 1 / 4 / 100, 1);
    // skewed: the busiest auction of a batch draws far more bids than an ordinary one
    const perAuction = new Map<number, number>();
    for (const b of bids) perAuction.set(b.auction, (perAuction.get(b.auction) ?? 0) + 1);
    const counts = [...perAuction.values()].sort((a, b) => b - a);
    expect(counts[0]).toBeGreaterThan(50 * (counts[Math.floor(counts.length / 2)] as number));
  });

  it("bids on auctions already generated, or at most Nexmark's lead of 10 ids ahead, and among the last 100 in flight", () => {
    // Assess
    let lastAuction = FIRST_AUCTION_ID - 1;
    let lastPerson = FIRST_PERSON_ID - 1;
    let ahead = 0;
    const wrong: string[] = [];
    for (const e of events) {
      if (e.event_type === 1) {
        expect(e.id).toBe(lastAuction + 1);
        lastAuction = e.id;
      } else if (e.event_type === 0) {
        expect(e.id).toBe(lastPerson + 1);
        lastPerson = e.id;
      } else {
        if (e.auction > lastAuction) ahead++;
        if (e.auction > lastAuction + AUCTION_ID_LEAD || e.auction < Math.max(FIRST_AUCTION_ID, lastAuction - 100))
          wrong.push(`bid at ${e.dateTime} on auction ${e.auction}, the last being ${lastAuction}`);
        // bidders: a person generated (or up to 10 ahead), as Nexmark numbers them (FIRST_PERSON_ID added twice)
        const person = e.bidder - FIRST_PERSON_ID;
        if (person < FIRST_PERSON_ID || person > lastPerson + PERSON_ID_LEAD)
          wrong.push(`bid by ${e.bidder}, the last person being ${lastPerson}`);
      }
    }
    expect(wrong.slice(0, 5)).toEqual([]);
    // leads are the exception: 10 of the 111 ids a non-hot bid draws from
    expect(ahead / bids.length).toBeGreaterThan(0.01);
    expect(ahead / bids.length).toBeLessThan(0.06);
  });

  it("advances event time at the configured rate from the start time, in order", () => {
    // Act
    const start = Date.parse("2026-06-01T00:00:00Z");
    const paced = [...new NexmarkGenerator({ startTime: start, eventsPerSecond: 250 }).take(1000)].map((e) => Date.parse(e.dateTime));

    // Assess
    expect(paced[0]).toBe(start);
    expect(paced.every((t, i) => i === 0 || t >= (paced[i - 1] as number))).toBe(true);
    expect(paced.filter((t) => t < start + 1000)).toHaveLength(250);
    expect(paced.at(-1)).toBe(start + 3996);
    // the defaults: 10,000 events a second
    const times = events.map((e) => Date.parse(e.dateTime));
    expect(times.every((t, i) => i === 0 || t >= (times[i - 1] as number))).toBe(true);
    expect(((times.at(-1) as number) - (times[0] as number)) / 1000).toBeCloseTo(N / NEXMARK_DEFAULTS.eventsPerSecond, 2);
  });

  it("writes flat events with Nexmark's fields, ISO-8601 UTC times with milliseconds and Nexmark's sizes", () => {
    // Assess
    const at = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
    expect(Object.keys(bids[0] as object)).toEqual(["event_type", "auction", "bidder", "price", "channel", "url", "dateTime", "extra"]);
    expect(Object.keys(auctions[0] as object)).toEqual([
      "event_type",
      "id",
      "itemName",
      "description",
      "initialBid",
      "reserve",
      "dateTime",
      "expires",
      "seller",
      "category",
      "extra",
    ]);
    expect(Object.keys(people[0] as object)).toEqual([
      "event_type",
      "id",
      "name",
      "emailAddress",
      "creditCard",
      "city",
      "state",
      "dateTime",
      "extra",
    ]);
    expect(events.every((e) => at.test(e.dateTime))).toBe(true);
    expect(auctions.every((a) => at.test(a.expires) && a.expires > a.dateTime && a.reserve >= a.initialBid)).toBe(true);
    expect(auctions.every((a) => a.category >= 10 && a.category < 15)).toBe(true);
    expect(bids.every((b) => Number.isInteger(b.price) && b.price >= 100 && b.price <= 100_000_000)).toBe(true);
    // an e-mail address may start with "@": Nexmark trims a random string, which can be all spaces
    expect(people.every((p) => /^\d{4} \d{4} \d{4} \d{4}$/.test(p.creditCard) && /^[a-z ]*@[a-z ]*\.com$/.test(p.emailAddress))).toBe(true);
    // half the bids on the four hot channels; nine in ten of the others' URLs carry a channel_id
    expect(share(bids, (b: BidEvent) => ["Google", "Facebook", "Baidu", "Apple"].includes(b.channel))).toBeCloseTo(0.5, 1);
    const others = bids.filter((b) => b.channel.startsWith("channel-"));
    expect(share(others, (b: BidEvent) => b.url.includes("&channel_id="))).toBeCloseTo(0.9, 1);
    // extra pads a bid's 32 bytes of numbers to 100 on average, an auction to 500, a person to 200
    const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(bids.map((b) => b.extra.length))).toBeCloseTo(68, -1);
    expect(mean(auctions.map((a) => 8 + a.itemName.length + a.description.length + 40 + a.extra.length))).toBeCloseTo(500, -1);
  });

  it("refuses options it cannot generate from", () => {
    expect(() => new NexmarkGenerator({ eventsPerSecond: 0 })).toThrow(/eventsPerSecond/);
    expect(() => new NexmarkGenerator({ bidProportion: 0 })).toThrow(/proportion/);
    expect(() => new NexmarkGenerator({ hotAuctionRatio: Number.NaN })).toThrow(/hotAuctionRatio/);
  });
});
