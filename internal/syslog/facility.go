package syslog

import (
	"fmt"
	"strings"

	"github.com/rs/zerolog"
)

// Facility is a syslog facility code (RFC 5424 section 6.2.1).
type Facility uint8

// The facilities an operator may reasonably pick for ctwatch: daemon (the
// default), auth, authpriv, security-flavoured local use and the eight local
// ones. The others (kern, mail, uucp, ...) belong to other programs.
const (
	User     Facility = 1
	Daemon   Facility = 3
	Auth     Facility = 4
	Syslog   Facility = 5
	AuthPriv Facility = 10
	Local0   Facility = 16
	Local7   Facility = 23
)

var facilityNames = map[string]Facility{
	"user": User, "daemon": Daemon, "auth": Auth, "syslog": Syslog, "authpriv": AuthPriv,
	"local0": 16, "local1": 17, "local2": 18, "local3": 19,
	"local4": 20, "local5": 21, "local6": 22, "local7": 23,
}

// ParseFacility takes a facility's name as syslog.conf spells it: user,
// daemon, auth, syslog, authpriv, local0 ... local7.
func ParseFacility(name string) (Facility, error) {
	f, ok := facilityNames[strings.ToLower(name)]
	if !ok {
		return 0, fmt.Errorf("%q is not one of user, daemon, auth, syslog, authpriv, local0 to local7", name)
	}
	return f, nil
}

// Severity is a syslog severity code (RFC 5424 section 6.2.1).
type Severity uint8

// The severities that ctwatch's levels map to.
const (
	Alert         Severity = 1
	Critical      Severity = 2
	Error         Severity = 3
	Warning       Severity = 4
	Informational Severity = 6
	Debug         Severity = 7
)

// SeverityOf maps a record's zerolog level to a severity: trace and debug
// 7, info 6, warn 4, error 3, fatal 2, panic 1. A record without a level
// (zerolog.NoLevel) is informational.
func SeverityOf(l zerolog.Level) Severity {
	switch {
	case l <= zerolog.DebugLevel:
		return Debug
	case l == zerolog.WarnLevel:
		return Warning
	case l == zerolog.ErrorLevel:
		return Error
	case l == zerolog.FatalLevel:
		return Critical
	case l == zerolog.PanicLevel:
		return Alert
	default:
		return Informational
	}
}
