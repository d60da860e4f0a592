package client

import "strings"

// ParseItem recognises a hash given as text: 64 hex digits for a PDQ hash,
// 32 for an MD5, or a signal type and hex ("pdq:", "md5:", "sha256:").
func ParseItem(s string) (Item, bool) {
	kind, v, prefixed := strings.Cut(s, ":")
	if !prefixed {
		v = s
		switch len(s) {
		case 64:
			kind = PDQ
		case 32:
			kind = MD5
		default:
			return Item{}, false
		}
	}
	for _, c := range v {
		if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return Item{}, false
		}
	}
	switch kind {
	case PDQ:
		return Item{PDQ: v}, true
	case MD5:
		return Item{MD5: v}, true
	case SHA256:
		return Item{SHA256: v}, true
	}
	return Item{}, false
}
