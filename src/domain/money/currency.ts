/**
 * Currencies and assets by their minor-unit exponent.
 *
 * ISO 4217 exponents follow the maintained list (ISO 4217 amendment 176; the same table as
 * moneyphp/iso-currencies): most currencies use 2; the exceptions are listed explicitly so a
 * reviewer can check them against the standard. Crypto assets carry their token decimals
 * (USDC 6); `SAT` is Lightning's satoshi with millisatoshi precision (exponent 3).
 */
export type AssetKind = 'fiat' | 'crypto';

export interface Currency {
  readonly code: string;
  readonly exponent: number;
  readonly kind: AssetKind;
}

const ISO_4217_TWO_DECIMALS = `AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP BYN
BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD
HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK
MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD
SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST XCD XCG YER ZAR ZMW ZWG`;

// ISO 4217 currencies whose minor unit is not 2.
const ISO_4217_OTHER: Readonly<Record<string, number>> = {
  BIF: 0, CLP: 0, DJF: 0, GNF: 0, ISK: 0, JPY: 0, KMF: 0, KRW: 0, PYG: 0, RWF: 0, UGX: 0, UYI: 0, VND: 0,
  VUV: 0, XAF: 0, XOF: 0, XPF: 0,
  BHD: 3, IQD: 3, JOD: 3, KWD: 3, LYD: 3, OMR: 3, TND: 3,
  CLF: 4, UYW: 4,
};

// Token decimals as published by each issuer; USDC ≠ USD in the books, so they stay separate codes.
const CRYPTO: Readonly<Record<string, number>> = {
  USDC: 6, USDT: 6, EURC: 6, PYUSD: 6, DAI: 18, ETH: 18, BTC: 8, SAT: 3,
};

const TABLE: ReadonlyMap<string, Currency> = new Map<string, Currency>([
  ...ISO_4217_TWO_DECIMALS.split(/\s+/).filter(Boolean).map((code): [string, Currency] => [code, { code, exponent: 2, kind: 'fiat' }]),
  ...Object.entries(ISO_4217_OTHER).map(([code, exponent]): [string, Currency] => [code, { code, exponent, kind: 'fiat' }]),
  ...Object.entries(CRYPTO).map(([code, exponent]): [string, Currency] => [code, { code, exponent, kind: 'crypto' }]),
]);

/** The currency for a code, or undefined. Codes are upper case; lookups are exact. */
export const findCurrency = (code: string): Currency | undefined => TABLE.get(code);
