// Package rfc3339 appends times as RFC 3339 timestamps in UTC with a fixed
// number of fraction digits, digit by digit: the records' times (nine
// digits, so that they sort as strings) and syslog's TIMESTAMP (six, as RFC
// 5424 allows at most). time.Time.AppendFormat's layout interpreter costs
// several times as much, and every record carries a time.
package rfc3339
