/**
 * The one rule for free text in every spreadsheet the product writes (ledger, change log and
 * statement CSV and XLSX, accounting CSVs). A cell starting with one of OWASP's CSV-injection
 * characters (=, +, -, @, tab, carriage return) is run as a formula by Excel, LibreOffice and
 * Sheets: `=HYPERLINK("http://x","y")` as a merchant name would become a live link. Such text
 * gets a leading apostrophe, which every one of them shows as text. Only free text goes through
 * here: amounts the product formats ("-12.50") are numbers and are written as they are.
 */
export const FORMULA_START = /^[=+\-@\t\r]/;

/** Free text made safe to stand alone in a cell. */
export const defuseText = (s: string): string => (FORMULA_START.test(s) ? `'${s}` : s);

/** RFC 4180: quoted (inner quotes doubled) when it holds a quote, comma or line break, or has outer white space. */
export const quoteCsv = (s: string): string => (/[",\r\n]/.test(s) || s !== s.trim() ? `"${s.replace(/"/g, '""')}"` : s);

/** A free-text CSV cell: defused, then quoted. */
export const csvTextCell = (s: string): string => quoteCsv(defuseText(s));
