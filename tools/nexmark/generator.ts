// Nexmark's event generator (github.com/nexmark/nexmark, nexmark-flink: NexmarkGenerator, GeneratorConfig
// and the model generators), ported to produce the events Panes reads: one flat JSON object per event,
// `event_type` (0 person, 1 auction, 2 bid) beside the fields of its kind at top level, `dateTime` as
// ISO-8601 UTC with milliseconds.
//
// Kept as Nexmark has them: the person/auction/bid proportions (1:3:46 by default) and the event-id
// arithmetic that interleaves them (each run of 50 event ids is 1 person, 3 auctions, 46 bids); ids of
// people and auctions from 1000, categories from 10; hot auctions, bidders and sellers (the first of the
// last 100 auctions or people gets 1 - 1/ratio of the bids or auctions: ratios 2, 4 and 4 by default);
// the other bids spread over the last `numInFlightAuctions` (100) auctions and the last
// `numActivePeople` (1000) people, plus Nexmark's lead of 10 ids not yet generated; prices
// 10^(6u)·100 cents; auctions' expiry from the in-flight horizon; channels (half of the bids on four hot
// channels, the rest on 10,000 others, nine in ten with a channel_id in the URL); names, e-mails,
// credit cards, cities and states from Nexmark's lists; `extra` padding each event to Nexmark's average
// sizes (person 200, auction 500, bid 100 bytes) from a reusable 1 MB string; event times in order,
// `1e6 / eventsPerSecond` µs apart (Nexmark's `first-event.rate`, default 10,000 events/s) from a start
// time. Nexmark's bid generator adds FIRST_PERSON_ID to the bidder twice (bidders are 2000 + a person's
// base-0 id, not 1000 +): kept, so bidder ids are Nexmark's.
//
// What differs: deterministic by `seed` (Nexmark seeds java.util.SplittableRandom from the clock, and its
// channel URLs and extra string from a static unseeded one), with a 32-bit generator (mulberry32), so the
// same seed gives the same events here but never Nexmark's; one generator, one timeline (Nexmark's
// Flink source splits the id space over its parallel subtasks, each with a timeline of its own from the
// same base time: interleaved, the events are out of order by up to the parallelism's events); event ids
// from 0, as Beam's Nexmark (the Flink source starts at id 2 with event number 1, so person 1000 and
// auction 1000, which the first hot bids and auctions name, never appear); a start time given rather
// than the wall clock. Left out, as the Flink generator leaves them out or at a value that does nothing:
// rate shapes and next-event.rate (one constant rate), out-of-order groups (group size 1), occasional
// delays, the wall-clock pacing of emission and the events.num limit (the caller says how many).

import { seededRandom } from "../local/generate.ts";

export interface NexmarkOptions {
  /** the random sequence: the same seed, the same events */
  seed: number;
  /** event time of the first event, epoch ms */
  startTime: number;
  /** events per second of event time (Nexmark's first-event.rate) */
  eventsPerSecond: number;
  personProportion: number;
  auctionProportion: number;
  bidProportion: number;
  /** 1 - 1/ratio of the bids go to the hot auction (bid.hot-ratio.auctions) */
  hotAuctionRatio: number;
  /** 1 - 1/ratio of the bids are by the hot bidder (bid.hot-ratio.bidders) */
  hotBiddersRatio: number;
  /** 1 - 1/ratio of the auctions are by the hot seller (auction.hot-ratio.sellers) */
  hotSellersRatio: number;
  /** the other bids go to one of the last this many auctions (or up to 10 ahead) */
  numInFlightAuctions: number;
  /** the other bids and auctions are by one of the last this many people (or up to 10 ahead) */
  numActivePeople: number;
  avgPersonByteSize: number;
  avgAuctionByteSize: number;
  avgBidByteSize: number;
}

/** Nexmark's defaults (NexmarkConfiguration, NexmarkSourceOptions); the start time and seed are ours. */
export const NEXMARK_DEFAULTS: NexmarkOptions = {
  seed: 1,
  startTime: Date.parse("2026-01-01T00:00:00Z"),
  eventsPerSecond: 10_000,
  personProportion: 1,
  auctionProportion: 3,
  bidProportion: 46,
  hotAuctionRatio: 2,
  hotBiddersRatio: 4,
  hotSellersRatio: 4,
  numInFlightAuctions: 100,
  numActivePeople: 1000,
  avgPersonByteSize: 200,
  avgAuctionByteSize: 500,
  avgBidByteSize: 100,
};

export const EVENT_TYPE = { person: 0, auction: 1, bid: 2 } as const;

export interface PersonEvent {
  event_type: 0;
  id: number;
  name: string;
  emailAddress: string;
  creditCard: string;
  city: string;
  state: string;
  dateTime: string;
  extra: string;
}

export interface AuctionEvent {
  event_type: 1;
  id: number;
  itemName: string;
  description: string;
  initialBid: number;
  reserve: number;
  dateTime: string;
  expires: string;
  seller: number;
  category: number;
  extra: string;
}

export interface BidEvent {
  event_type: 2;
  auction: number;
  bidder: number;
  price: number;
  channel: string;
  url: string;
  dateTime: string;
  extra: string;
}

export type NexmarkEvent = PersonEvent | AuctionEvent | BidEvent;

// GeneratorConfig, PersonGenerator, AuctionGenerator and BidGenerator constants
export const FIRST_PERSON_ID = 1000;
export const FIRST_AUCTION_ID = 1000;
export const FIRST_CATEGORY_ID = 10;
const NUM_CATEGORIES = 5;
/** ids of people and auctions not yet generated that a bid or an auction may name */
export const PERSON_ID_LEAD = 10;
export const AUCTION_ID_LEAD = 10;
/** the hot auction, bidder or seller is the first of the last this many */
export const HOT_AUCTION_BATCH = 100;
export const HOT_BIDDER_BATCH = 100;
export const HOT_SELLER_BATCH = 100;
const HOT_CHANNELS_RATIO = 2;
const CHANNELS_NUMBER = 10_000;
const HOT_CHANNELS = ["Google", "Facebook", "Baidu", "Apple"] as const;
const MIN_STRING_LENGTH = 3;
const REUSABLE_EXTRA_LENGTH = 1024 * 1024;
const US_STATES = ["AZ", "CA", "ID", "OR", "WA", "WY"];
const US_CITIES = ["Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland", "Bend", "Redmond", "Seattle", "Kent", "Cheyenne"];
const FIRST_NAMES = ["Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter"];
const LAST_NAMES = ["Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris"];

/** The base-0 id of the last person generated at or before this event id (the current one if it is a person). */
export function lastBase0PersonId(o: Pick<NexmarkOptions, "personProportion" | "auctionProportion" | "bidProportion">, eventId: number) {
  const total = o.personProportion + o.auctionProportion + o.bidProportion;
  const epoch = Math.floor(eventId / total);
  let offset = eventId % total;
  if (offset >= o.personProportion) offset = o.personProportion - 1;
  return epoch * o.personProportion + offset;
}

/** The base-0 id of the last auction generated at or before this event id (the current one if it is an auction). */
export function lastBase0AuctionId(o: Pick<NexmarkOptions, "personProportion" | "auctionProportion" | "bidProportion">, eventId: number) {
  const total = o.personProportion + o.auctionProportion + o.bidProportion;
  let epoch = Math.floor(eventId / total);
  let offset = eventId % total;
  if (offset < o.personProportion) {
    epoch--;
    offset = o.auctionProportion - 1;
  } else if (offset >= o.personProportion + o.auctionProportion) {
    offset = o.auctionProportion - 1;
  } else {
    offset -= o.personProportion;
  }
  return epoch * o.auctionProportion + offset;
}

/** Java's Integer.reverse, then Math.abs as Java computes it (abs of MIN_VALUE is MIN_VALUE). */
function reversedBitsAbs(i: number): number {
  let x = i >>> 0;
  let r = 0;
  for (let b = 0; b < 32; b++) {
    r = ((r << 1) | (x & 1)) >>> 0;
    x >>>= 1;
  }
  const signed = r | 0;
  return signed === -2147483648 ? signed : Math.abs(signed);
}

export class NexmarkGenerator {
  readonly options: NexmarkOptions;
  private readonly random: () => number;
  private readonly totalProportion: number;
  private readonly interEventDelayUs: number;
  private readonly extraSource: string;
  private readonly hotUrls: string[];
  private readonly channelUrls: [channel: string, url: string][];
  /** events generated so far */
  private count = 0;

  constructor(options: Partial<NexmarkOptions> = {}) {
    const o = { ...NEXMARK_DEFAULTS, ...options };
    for (const [name, value] of Object.entries(o))
      if (!Number.isFinite(value) || (name !== "startTime" && name !== "seed" && value < 0))
        throw new RangeError(`nexmark: ${name} must be a number, not negative (got ${value})`);
    if (o.eventsPerSecond <= 0) throw new RangeError("nexmark: eventsPerSecond must be positive");
    if (o.personProportion < 1 || o.auctionProportion < 1 || o.bidProportion < 1)
      throw new RangeError("nexmark: each proportion must be at least 1");
    if (o.hotAuctionRatio < 1 || o.hotBiddersRatio < 1 || o.hotSellersRatio < 1)
      throw new RangeError("nexmark: hot ratios must be at least 1");
    this.options = o;
    this.random = seededRandom(o.seed);
    this.totalProportion = o.personProportion + o.auctionProportion + o.bidProportion;
    this.interEventDelayUs = 1_000_000 / o.eventsPerSecond;
    // StringsGenerator's REUSABLE_EXTRA_STRING and BidGenerator's HOT_URLS and CHANNEL_URL_CACHE, in that order
    this.extraSource = this.exactString(REUSABLE_EXTRA_LENGTH);
    this.hotUrls = HOT_CHANNELS.map(() => this.baseUrl());
    this.channelUrls = Array.from({ length: CHANNELS_NUMBER }, (_, i) => {
      let url = this.baseUrl();
      if (this.nextInt(10) > 0) url = `${url}&channel_id=${reversedBitsAbs(i)}`;
      return [`channel-${i}`, url];
    });
  }

  /** Events generated so far. */
  get generated(): number {
    return this.count;
  }

  /** The event time of the event with this number (GeneratorConfig.timestampForEvent). */
  timestampForEvent(eventNumber: number): number {
    return this.options.startTime + Math.floor(Math.floor(eventNumber * this.interEventDelayUs) / 1000);
  }

  /** The next event (NexmarkGenerator.nextEvent). */
  next(): NexmarkEvent {
    const eventNumber = this.count;
    const eventId = eventNumber;
    const timestamp = this.timestampForEvent(eventNumber);
    const rem = eventId % this.totalProportion;
    const o = this.options;
    let event: NexmarkEvent;
    if (rem < o.personProportion) event = this.person(eventId, timestamp);
    else if (rem < o.personProportion + o.auctionProportion) event = this.auction(eventNumber, eventId, timestamp);
    else event = this.bid(eventId, timestamp);
    this.count++;
    return event;
  }

  *take(n: number): Generator<NexmarkEvent> {
    for (let i = 0; i < n; i++) yield this.next();
  }

  // ——— SplittableRandom's calls, on a seeded 32-bit sequence ———

  /** [0, bound) */
  private nextInt(bound: number): number {
    return Math.floor(this.random() * bound);
  }

  /** LongGenerator.nextLong: [0, n) */
  private nextLong(n: number): number {
    return this.nextInt(n);
  }

  // ——— PersonGenerator ———

  private person(eventId: number, timestamp: number): PersonEvent {
    const id = lastBase0PersonId(this.options, eventId) + FIRST_PERSON_ID;
    const name = `${this.pick(FIRST_NAMES)} ${this.pick(LAST_NAMES)}`;
    const emailAddress = `${this.nextString(7)}@${this.nextString(5)}.com`;
    const cards: string[] = [];
    for (let i = 0; i < 4; i++) cards.push(String(this.nextInt(10_000)).padStart(4, "0"));
    const creditCard = cards.join(" ");
    const city = this.pick(US_CITIES);
    const state = this.pick(US_STATES);
    const size = 8 + name.length + emailAddress.length + creditCard.length + city.length + state.length;
    const extra = this.nextExtra(size, this.options.avgPersonByteSize);
    return { event_type: 0, id, name, emailAddress, creditCard, city, state, dateTime: new Date(timestamp).toISOString(), extra };
  }

  /** PersonGenerator.nextBase0PersonId: one of the active people, or a few not yet generated. */
  private nextBase0PersonId(eventId: number): number {
    const numPeople = lastBase0PersonId(this.options, eventId) + 1;
    const activePeople = Math.min(numPeople, this.options.numActivePeople);
    const n = this.nextLong(activePeople + PERSON_ID_LEAD);
    return numPeople - activePeople + n;
  }

  // ——— AuctionGenerator ———

  private auction(eventsCountSoFar: number, eventId: number, timestamp: number): AuctionEvent {
    const o = this.options;
    const id = lastBase0AuctionId(o, eventId) + FIRST_AUCTION_ID;
    let seller: number;
    if (this.nextInt(o.hotSellersRatio) > 0) {
      seller = Math.floor(lastBase0PersonId(o, eventId) / HOT_SELLER_BATCH) * HOT_SELLER_BATCH;
    } else {
      seller = this.nextBase0PersonId(eventId);
    }
    seller += FIRST_PERSON_ID;
    const category = FIRST_CATEGORY_ID + this.nextInt(NUM_CATEGORIES);
    const initialBid = this.nextPrice();
    const expires = timestamp + this.nextAuctionLengthMs(eventsCountSoFar, timestamp);
    const itemName = this.nextString(20);
    const description = this.nextString(100);
    const reserve = initialBid + this.nextPrice();
    const size = 8 + itemName.length + description.length + 8 + 8 + 8 + 8 + 8;
    const extra = this.nextExtra(size, o.avgAuctionByteSize);
    return {
      event_type: 1,
      id,
      itemName,
      description,
      initialBid,
      reserve,
      dateTime: new Date(timestamp).toISOString(),
      expires: new Date(expires).toISOString(),
      seller,
      category,
      extra,
    };
  }

  /** AuctionGenerator.nextBase0AuctionId: one of the in-flight auctions, or a few not yet generated. */
  private nextBase0AuctionId(eventId: number): number {
    const last = lastBase0AuctionId(this.options, eventId);
    const min = Math.max(last - this.options.numInFlightAuctions, 0);
    return min + this.nextLong(last - min + 1 + AUCTION_ID_LEAD);
  }

  /** AuctionGenerator.nextAuctionLengthMs: on average the time until numInFlightAuctions more auctions. */
  private nextAuctionLengthMs(eventsCountSoFar: number, timestamp: number): number {
    const o = this.options;
    const numEventsForAuctions = Math.floor((o.numInFlightAuctions * this.totalProportion) / o.auctionProportion);
    const futureAuction = this.timestampForEvent(eventsCountSoFar + numEventsForAuctions);
    const horizonMs = futureAuction - timestamp;
    return 1 + this.nextLong(Math.max(horizonMs * 2, 1));
  }

  // ——— BidGenerator ———

  private bid(eventId: number, timestamp: number): BidEvent {
    const o = this.options;
    let auction: number;
    if (this.nextInt(o.hotAuctionRatio) > 0) {
      auction = Math.floor(lastBase0AuctionId(o, eventId) / HOT_AUCTION_BATCH) * HOT_AUCTION_BATCH;
    } else {
      auction = this.nextBase0AuctionId(eventId);
    }
    auction += FIRST_AUCTION_ID;
    let bidder: number;
    if (this.nextInt(o.hotBiddersRatio) > 0) {
      // the second person of the batch, so that hot bidders and hot sellers differ
      bidder = Math.floor(lastBase0PersonId(o, eventId) / HOT_BIDDER_BATCH) * HOT_BIDDER_BATCH + 1;
    } else {
      bidder = this.nextBase0PersonId(eventId);
    }
    bidder += FIRST_PERSON_ID;
    const price = this.nextPrice();
    let channel: string;
    let url: string;
    if (this.nextInt(HOT_CHANNELS_RATIO) > 0) {
      const i = this.nextInt(HOT_CHANNELS.length);
      channel = HOT_CHANNELS[i] as string;
      url = this.hotUrls[i] as string;
    } else {
      [channel, url] = this.channelUrls[this.nextInt(CHANNELS_NUMBER)] as [string, string];
    }
    // as Nexmark's BidGenerator does (a second time)
    bidder += FIRST_PERSON_ID;
    const extra = this.nextExtra(8 + 8 + 8 + 8, o.avgBidByteSize);
    return { event_type: 2, auction, bidder, price, channel, url, dateTime: new Date(timestamp).toISOString(), extra };
  }

  private baseUrl(): string {
    return `https://www.nexmark.com/${this.nextString(5, "_")}/${this.nextString(5, "_")}/${this.nextString(5, "_")}/item.htm?query=1`;
  }

  // ——— PriceGenerator, StringsGenerator ———

  /** Cents: 10^(6u) dollars. */
  private nextPrice(): number {
    return Math.round(10 ** (this.random() * 6) * 100);
  }

  private pick<T>(items: readonly T[]): T {
    return items[this.nextInt(items.length)] as T;
  }

  /** Up to maxLength letters, one in 13 the special character, trimmed. */
  private nextString(maxLength: number, special = " "): string {
    let len = MIN_STRING_LENGTH + this.nextInt(maxLength - MIN_STRING_LENGTH);
    let s = "";
    while (len-- > 0) s += this.nextInt(13) === 0 ? special : String.fromCharCode(97 + this.nextInt(26));
    return s.trim();
  }

  /** Exactly `length` letters: a slice of the reusable string when it is long enough. */
  private exactString(length: number): string {
    if (this.extraSource !== undefined && length < this.extraSource.length / 2) {
      const offset = this.nextInt(this.extraSource.length - length);
      return this.extraSource.slice(offset, offset + length);
    }
    const chars: string[] = [];
    let rnd = 0;
    let n = 0;
    while (length-- > 0) {
      if (n === 0) {
        // SplittableRandom.nextInt(): any int, negative ones too (their letters fall below 'a', as in Nexmark)
        rnd = Math.floor(this.random() * 2 ** 32) | 0;
        n = 6; // log_26(2^31)
      }
      chars.push(String.fromCharCode(97 + (rnd % 26)));
      rnd = Math.trunc(rnd / 26);
      n--;
    }
    return chars.join("");
  }

  /** Padding so that currentSize plus its length is on average desiredAverageSize (±20%). */
  private nextExtra(currentSize: number, desiredAverageSize: number): string {
    if (currentSize > desiredAverageSize) return "";
    const desired = desiredAverageSize - currentSize;
    const delta = Math.round(desired * 0.2);
    const minSize = desired - delta;
    const size = minSize + (delta === 0 ? 0 : this.nextInt(2 * delta));
    return this.exactString(size);
  }
}

/** `count` events, as JSON lines (one flat object each), from a fresh generator. */
export function* nexmarkLines(count: number, options: Partial<NexmarkOptions> = {}): Generator<string> {
  const generator = new NexmarkGenerator(options);
  for (let i = 0; i < count; i++) yield JSON.stringify(generator.next());
}
