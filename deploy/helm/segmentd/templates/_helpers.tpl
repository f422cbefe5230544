{{/* Chart name, truncated to 63 characters (a DNS label). */}}
{{- define "segmentd.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name: the prefix of every resource name and the StatefulSet's name; pods are
<fullname>-<ordinal>. At most 52 characters: the StatefulSet controller labels each pod
with <statefulset>-<10-character hash>, which must fit in 63.
*/}}
{{- define "segmentd.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "segmentd.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every resource. */}}
{{- define "segmentd.labels" -}}
helm.sh/chart: {{ include "segmentd.chart" . }}
{{ include "segmentd.selectorLabels" . }}
app.kubernetes.io/version: {{ (default .Chart.AppVersion .Values.image.tag) | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/component: processor
app.kubernetes.io/part-of: segmentd
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Labels that select the pods; immutable once the StatefulSet exists. */}}
{{- define "segmentd.selectorLabels" -}}
app.kubernetes.io/name: {{ include "segmentd.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "segmentd.headlessServiceName" -}}
{{- printf "%s-headless" (include "segmentd.fullname" .) }}
{{- end }}

{{- define "segmentd.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "segmentd.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "segmentd.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/* Where the Secrets are mounted in the container. */}}
{{- define "segmentd.secretsDir" -}}/etc/segmentd{{- end }}

{{/* Is TLS on: asked for, or implied by a CA or client certificate (as --tls is). */}}
{{- define "segmentd.tlsEnabled" -}}
{{- if or .Values.kafka.tls.enabled .Values.kafka.tls.caSecret.name .Values.kafka.tls.clientCertSecret.name }}true{{ end }}
{{- end }}

{{/*
Checks of values that the schema cannot express; each fails the render with what to do.
*/}}
{{- define "segmentd.validate" -}}
{{- $k := .Values.kafka }}
{{- if and (not $k.brokers) (not .Values.demo.enabled) }}
{{- fail "kafka.brokers is empty: set your Kafka bootstrap brokers (or demo.enabled=true for a non-durable try-out on an embedded broker)" }}
{{- end }}
{{- if and $k.brokers .Values.demo.enabled }}
{{- fail "demo.enabled needs the embedded broker: set kafka.brokers to [] (the demo is not durable)" }}
{{- end }}
{{- if and $k.sasl.mechanism (not $k.sasl.passwordSecret.name) }}
{{- fail "kafka.sasl.mechanism is set: name the Secret holding the password in kafka.sasl.passwordSecret.name" }}
{{- end }}
{{- if and $k.sasl.mechanism (not $k.sasl.username) }}
{{- fail "kafka.sasl.mechanism is set: set kafka.sasl.username" }}
{{- end }}
{{- if and $k.sasl.passwordSecret.name (not $k.sasl.mechanism) }}
{{- fail "kafka.sasl.passwordSecret.name is set but kafka.sasl.mechanism is empty: set PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512" }}
{{- end }}
{{- if eq (int .Values.http.port) (int .Values.admin.port) }}
{{- fail "admin.port equals http.port: the admin API needs a port of its own (so that networkPolicy can restrict it)" }}
{{- end }}
{{- if eq (toString .Values.http.bindAddress) "127.0.0.1" "localhost" "[::1]" "::1" }}
{{- fail "http.bindAddress is a loopback address: the probes and Prometheus could not reach segmentd" }}
{{- end }}
{{- end }}
