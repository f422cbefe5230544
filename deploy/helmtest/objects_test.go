package helmtest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The subset of the Kubernetes and Prometheus Operator objects the tests look at.

type meta struct {
	Name        string            `yaml:"name"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

type statefulSet struct {
	Metadata meta `yaml:"metadata"`
	Spec     struct {
		ServiceName         string `yaml:"serviceName"`
		Replicas            int    `yaml:"replicas"`
		PodManagementPolicy string `yaml:"podManagementPolicy"`
		Selector            struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Template struct {
			Metadata meta    `yaml:"metadata"`
			Spec     podSpec `yaml:"spec"`
		} `yaml:"template"`
		VolumeClaimTemplates []struct {
			Metadata meta `yaml:"metadata"`
			Spec     struct {
				AccessModes      []string `yaml:"accessModes"`
				StorageClassName *string  `yaml:"storageClassName"`
				Resources        struct {
					Requests map[string]string `yaml:"requests"`
				} `yaml:"resources"`
			} `yaml:"spec"`
		} `yaml:"volumeClaimTemplates"`
	} `yaml:"spec"`
}

type podSpec struct {
	TerminationGracePeriodSeconds *int64          `yaml:"terminationGracePeriodSeconds"`
	AutomountServiceAccountToken  *bool           `yaml:"automountServiceAccountToken"`
	ServiceAccountName            string          `yaml:"serviceAccountName"`
	SecurityContext               securityContext `yaml:"securityContext"`
	Containers                    []container     `yaml:"containers"`
	Volumes                       []volume        `yaml:"volumes"`
}

type securityContext struct {
	RunAsNonRoot             *bool  `yaml:"runAsNonRoot"`
	RunAsUser                *int64 `yaml:"runAsUser"`
	RunAsGroup               *int64 `yaml:"runAsGroup"`
	FSGroup                  *int64 `yaml:"fsGroup"`
	ReadOnlyRootFilesystem   *bool  `yaml:"readOnlyRootFilesystem"`
	AllowPrivilegeEscalation *bool  `yaml:"allowPrivilegeEscalation"`
	Privileged               *bool  `yaml:"privileged"`
	Capabilities             struct {
		Drop []string `yaml:"drop"`
		Add  []string `yaml:"add"`
	} `yaml:"capabilities"`
}

type container struct {
	Name  string   `yaml:"name"`
	Image string   `yaml:"image"`
	Args  []string `yaml:"args"`
	Env   []envVar `yaml:"env"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	StartupProbe   *probe `yaml:"startupProbe"`
	LivenessProbe  *probe `yaml:"livenessProbe"`
	ReadinessProbe *probe `yaml:"readinessProbe"`
	Resources      struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	SecurityContext securityContext `yaml:"securityContext"`
	VolumeMounts    []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
		ReadOnly  bool   `yaml:"readOnly"`
	} `yaml:"volumeMounts"`
}

type envVar struct {
	Name      string `yaml:"name"`
	Value     string `yaml:"value"`
	ValueFrom *struct {
		FieldRef *struct {
			FieldPath string `yaml:"fieldPath"`
		} `yaml:"fieldRef"`
		SecretKeyRef *struct {
			Name string `yaml:"name"`
			Key  string `yaml:"key"`
		} `yaml:"secretKeyRef"`
	} `yaml:"valueFrom"`
}

type probe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port any    `yaml:"port"` // a number or a port name
	} `yaml:"httpGet"`
}

type volume struct {
	Name   string `yaml:"name"`
	Secret *struct {
		SecretName string `yaml:"secretName"`
		Items      []struct {
			Key  string `yaml:"key"`
			Path string `yaml:"path"`
		} `yaml:"items"`
	} `yaml:"secret"`
	EmptyDir *struct {
		SizeLimit string `yaml:"sizeLimit"`
	} `yaml:"emptyDir"`
}

type service struct {
	Metadata meta `yaml:"metadata"`
	Spec     struct {
		Type                     string            `yaml:"type"`
		ClusterIP                string            `yaml:"clusterIP"`
		PublishNotReadyAddresses bool              `yaml:"publishNotReadyAddresses"`
		Selector                 map[string]string `yaml:"selector"`
		Ports                    []servicePort     `yaml:"ports"`
	} `yaml:"spec"`
}

type servicePort struct {
	Name       string `yaml:"name"`
	Port       int    `yaml:"port"`
	TargetPort any    `yaml:"targetPort"`
}

type networkPolicy struct {
	Metadata meta `yaml:"metadata"`
	Spec     struct {
		PodSelector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"podSelector"`
		PolicyTypes []string `yaml:"policyTypes"`
		Ingress     []struct {
			Ports []struct {
				Port     any    `yaml:"port"`
				Protocol string `yaml:"protocol"`
			} `yaml:"ports"`
			From []map[string]any `yaml:"from"` // nil: every source
		} `yaml:"ingress"`
	} `yaml:"spec"`
}

type podDisruptionBudget struct {
	Metadata meta `yaml:"metadata"`
	Spec     struct {
		MaxUnavailable any `yaml:"maxUnavailable"`
		MinAvailable   any `yaml:"minAvailable"`
		Selector       struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
	} `yaml:"spec"`
}

type serviceMonitor struct {
	Metadata meta `yaml:"metadata"`
	Spec     struct {
		JobLabel string `yaml:"jobLabel"`
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Endpoints []struct {
			Port string `yaml:"port"`
			Path string `yaml:"path"`
		} `yaml:"endpoints"`
	} `yaml:"spec"`
}

type prometheusRule struct {
	Metadata meta `yaml:"metadata"`
	Spec     struct {
		Groups []map[string]any `yaml:"groups"`
	} `yaml:"spec"`
}

// manifest is one rendered object: its kind and name, and its YAML to decode further.
type manifest struct {
	Kind, Name string
	node       *yaml.Node
}

// rendered is the output of one helm template run.
type rendered []manifest

// parseManifests splits helm template's multi-document output into objects.
func parseManifests(out string) (rendered, error) {
	var r rendered
	dec := yaml.NewDecoder(strings.NewReader(out))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return r, nil
		}
		if err != nil {
			return nil, fmt.Errorf("parse rendered YAML: %w", err)
		}
		if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
			continue // an empty document (a template that rendered nothing)
		}
		var head struct {
			APIVersion string `yaml:"apiVersion"`
			Kind       string `yaml:"kind"`
			Metadata   meta   `yaml:"metadata"`
		}
		if err := doc.Decode(&head); err != nil {
			return nil, fmt.Errorf("decode object header: %w", err)
		}
		if head.APIVersion == "" || head.Kind == "" || head.Metadata.Name == "" {
			return nil, fmt.Errorf("object without apiVersion, kind or name:\n%s", mustYAML(&doc))
		}
		r = append(r, manifest{Kind: head.Kind, Name: head.Metadata.Name, node: &doc})
	}
}

func mustYAML(n *yaml.Node) string {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	_ = enc.Encode(n)
	return b.String()
}

// all returns the objects of kind.
func (r rendered) all(kind string) []manifest {
	var ms []manifest
	for _, m := range r {
		if m.Kind == kind {
			ms = append(ms, m)
		}
	}
	return ms
}

// one decodes the only object of kind into v, failing t unless there is exactly one.
func (r rendered) one(t *testing.T, kind string, v any) {
	t.Helper()
	ms := r.all(kind)
	if len(ms) != 1 {
		t.Fatalf("rendered %d objects of kind %s, want 1", len(ms), kind)
	}
	if err := ms[0].node.Decode(v); err != nil {
		t.Fatalf("decode %s %s: %v", kind, ms[0].Name, err)
	}
}

func (r rendered) services(t *testing.T) []service {
	t.Helper()
	var ss []service
	for _, m := range r.all("Service") {
		var s service
		if err := m.node.Decode(&s); err != nil {
			t.Fatalf("decode Service %s: %v", m.Name, err)
		}
		ss = append(ss, s)
	}
	return ss
}

// env returns the container's variables by name, failing t on a duplicate.
func (c container) env(t *testing.T) map[string]envVar {
	t.Helper()
	m := map[string]envVar{}
	for _, e := range c.Env {
		if _, dup := m[e.Name]; dup {
			t.Errorf("container %s sets %s twice", c.Name, e.Name)
		}
		m[e.Name] = e
	}
	return m
}

// mountedFile says which Secret key the file at p comes from: the volume mounted at
// p's directory must be a Secret volume with an item projected at p's base name.
func mountedFile(pod podSpec, c container, p string) (secretName, key string, readOnly bool, err error) {
	dir, base := path.Split(p)
	dir = strings.TrimSuffix(dir, "/")
	for _, vm := range c.VolumeMounts {
		if vm.MountPath != dir {
			continue
		}
		for _, v := range pod.Volumes {
			if v.Name != vm.Name {
				continue
			}
			if v.Secret == nil {
				return "", "", false, fmt.Errorf("%s: volume %s at %s is not a Secret", p, v.Name, dir)
			}
			for _, it := range v.Secret.Items {
				if it.Path == base {
					return v.Secret.SecretName, it.Key, vm.ReadOnly, nil
				}
			}
			return "", "", false, fmt.Errorf("%s: Secret volume %s projects no item at %s", p, v.Name, base)
		}
		return "", "", false, fmt.Errorf("%s: mount %s names no volume", p, vm.Name)
	}
	return "", "", false, fmt.Errorf("%s: nothing is mounted at %s", p, dir)
}

// subset reports whether every label of sel is in labels with the same value.
func subset(sel, labels map[string]string) bool {
	if len(sel) == 0 {
		return false // an empty selector selects everything: never what we want
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}
