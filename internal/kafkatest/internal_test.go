package kafkatest

import (
	"regexp"
	"slices"
	"testing"
)

func TestSelectedBrokers(t *testing.T) {
	for _, tc := range []struct {
		env   string
		short bool
		want  []string
		err   bool
	}{
		{"", false, []string{NameKfake, NameKafka}, false},
		{"", true, []string{NameKfake}, false},
		{"kfake", false, []string{NameKfake}, false},
		{"kafka", true, []string{NameKafka}, false}, // explicit beats -short
		{" kafka , kfake,kafka ", false, []string{NameKafka, NameKfake}, false},
		{"redpanda", false, nil, true},
		{",", false, nil, true},
	} {
		got, err := selectedBrokers(tc.env, tc.short)
		if (err != nil) != tc.err || !slices.Equal(got, tc.want) {
			t.Errorf("selectedBrokers(%q, %v) = %q, %v; want %q, error %v", tc.env, tc.short, got, err, tc.want, tc.err)
		}
	}
}

func TestUniqueName(t *testing.T) {
	a, b := UniqueName("Test/Sub test:1"), UniqueName("Test/Sub test:1")
	if a == b {
		t.Errorf("two UniqueName calls gave %q", a)
	}
	if !regexp.MustCompile(`^Test-Sub-test-1-[0-9a-f]{8}$`).MatchString(a) {
		t.Errorf("UniqueName = %q", a)
	}
}

func TestLastLineTail(t *testing.T) {
	if got := lastLine("noise\n127.0.0.1:19092\n\n"); got != "127.0.0.1:19092" {
		t.Errorf("lastLine = %q", got)
	}
	if got := tail("a\nb\nc\n", 2); got != "b\nc" {
		t.Errorf("tail = %q", got)
	}
}
