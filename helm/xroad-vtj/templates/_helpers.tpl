{{/* Names and labels. */}}
{{- define "xroad-vtj.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "xroad-vtj.fullname" -}}
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

{{- define "xroad-vtj.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "xroad-vtj.selectorLabels" -}}
app.kubernetes.io/name: {{ include "xroad-vtj.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The helm test pod: never matched by the Deployment's selector (a ReplicaSet would adopt it). */}}
{{- define "xroad-vtj.testSelectorLabels" -}}
app.kubernetes.io/name: {{ include "xroad-vtj.name" . }}-test
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: test
{{- end }}

{{- define "xroad-vtj.labels" -}}
helm.sh/chart: {{ include "xroad-vtj.chart" . }}
{{ include "xroad-vtj.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: xroad-vtj
{{- end }}

{{- define "xroad-vtj.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "xroad-vtj.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "xroad-vtj.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/* Where things live inside the container. */}}
{{- define "xroad-vtj.configDir" -}}/etc/xroad-vtj/config{{- end }}
{{- define "xroad-vtj.secretsDir" -}}/etc/xroad-vtj/secrets{{- end }}
{{- define "xroad-vtj.dataDir" -}}/var/lib/xroad-vtj{{- end }}

{{/*
The names of the callers that authenticate with a bearer token, whose hash the callers secret holds under the
caller's name. Chart-made secret: the callers with an entry in secrets.callers.tokenSha256. existingSecret:
the callers without a certificate identity (cert_subject, cert_fingerprint_sha256), whose token is the only
way in, and those named in secrets.callers.certificateCallersWithToken. Returns YAML: {names: [...]}.
*/}}
{{- define "xroad-vtj.tokenCallers" -}}
{{- $s := .Values.secrets.callers }}
{{- $names := list }}
{{- range .Values.callers }}
{{- if $s.existingSecret }}
{{- if or (not (or .cert_subject .cert_fingerprint_sha256)) (has .name $s.certificateCallersWithToken) }}
{{- $names = append $names .name }}
{{- end }}
{{- else if hasKey $s.tokenSha256 .name }}
{{- $names = append $names .name }}
{{- end }}
{{- end }}
{{- toYaml (dict "names" $names) }}
{{- end }}

{{/*
The secret volumes: name (volume, directory and secret-name suffix), whether the pod needs it, and whether
the chart creates it (no existingSecret). Returns YAML: a list of {name, secretName, create}.
*/}}
{{- define "xroad-vtj.secretVolumes" -}}
{{- $s := .Values.secrets }}
{{- $full := include "xroad-vtj.fullname" . }}
{{- $wanted := list }}
{{- $wanted = append $wanted (list "vtj" $s.vtj.existingSecret true) }}
{{- $wanted = append $wanted (list "audit" $s.audit.existingSecret true) }}
{{- $tokenCallers := (include "xroad-vtj.tokenCallers" . | fromYaml).names }}
{{- $wanted = append $wanted (list "callers" $s.callers.existingSecret (gt (len $tokenCallers) 0)) }}
{{- $wanted = append $wanted (list "db" $s.database.existingSecret (eq .Values.config.audit.backend "postgresql")) }}
{{- $wanted = append $wanted (list "xroad-tls" $s.xroadTls.existingSecret $s.xroadTls.enabled) }}
{{- $wanted = append $wanted (list "dvv-tls" $s.dvvTls.existingSecret (include "xroad-vtj.direct" .)) }}
{{- $wanted = append $wanted (list "server-tls" $s.serverTls.existingSecret $s.serverTls.enabled) }}
{{- $out := list }}
{{- range $wanted }}
{{- if index . 2 }}
{{- $existing := index . 1 }}
{{- $out = append $out (dict "name" (index . 0) "secretName" (default (printf "%s-%s" $full (index . 0)) $existing) "create" (empty $existing)) }}
{{- end }}
{{- end }}
{{- toYaml (dict "volumes" $out) }}
{{- end }}

{{/* "true" when VTJ is reached over DVV's direct service (config.vtj.route direct), else empty. */}}
{{- define "xroad-vtj.direct" -}}
{{- if eq (default "xroad" .Values.config.vtj.route) "direct" }}true{{ end }}
{{- end }}

{{/* Whether the DVV TLS secret holds ca.crt: chart-made with caCrt, or an existingSecret declared to. */}}
{{- define "xroad-vtj.dvvCaCrt" -}}
{{- $d := .Values.secrets.dvvTls }}
{{- if $d.existingSecret }}{{ if $d.existingSecretHasCaCrt }}true{{ end }}
{{- else if $d.caCrt }}true
{{- end }}
{{- end }}

{{/* A URL's port: explicit in the URL, else the scheme's default. Takes the URL. */}}
{{- define "xroad-vtj.urlPort" -}}
{{- $u := urlParse . }}
{{- $hostport := splitList ":" (get $u "host") }}
{{- if gt (len $hostport) 1 }}
{{- last $hostport }}
{{- else if eq (get $u "scheme") "https" }}443
{{- else }}80
{{- end }}
{{- end }}

{{/* The port of the security server URL: explicit, else from the URL, else the scheme's default. */}}
{{- define "xroad-vtj.securityServerPort" -}}
{{- $explicit := .Values.networkPolicy.egress.securityServer.port }}
{{- if $explicit }}
{{- $explicit }}
{{- else }}
{{- include "xroad-vtj.urlPort" .Values.config.xroad.security_server_url }}
{{- end }}
{{- end }}

{{/* The port of DVV's direct service: networkPolicy.egress.dvv.port, else from config.vtj.direct.url. */}}
{{- define "xroad-vtj.dvvPort" -}}
{{- $explicit := .Values.networkPolicy.egress.dvv.port }}
{{- if $explicit }}
{{- $explicit }}
{{- else }}
{{- include "xroad-vtj.urlPort" .Values.config.vtj.direct.url }}
{{- end }}
{{- end }}

{{/*
The service's config.yaml, built as a dict and serialised with toYaml so that no value can break the YAML.
Secrets are never inlined: every secret key points to a file in a mounted secret directory.
*/}}
{{- define "xroad-vtj.config" -}}
{{- $c := .Values.config }}
{{- $s := .Values.secrets }}
{{- $sec := include "xroad-vtj.secretsDir" . }}
{{- $data := include "xroad-vtj.dataDir" . }}
{{- $server := merge (dict "host" "0.0.0.0") (deepCopy $c.server) }}
{{- if $s.serverTls.enabled }}
{{- $tls := dict "cert_file" (printf "%s/server-tls/tls.crt" $sec) "key_file" (printf "%s/server-tls/tls.key" $sec) }}
{{- if $s.serverTls.clientAuth }}
{{- $_ := set $tls "client_ca_file" (printf "%s/server-tls/ca.crt" $sec) }}
{{- end }}
{{- $_ := set $server "tls" $tls }}
{{- end }}
{{- $direct := include "xroad-vtj.direct" . }}
{{- $xroad := deepCopy $c.xroad }}
{{- if $direct }}
{{- /* No security server on the direct route: the service takes vtj.direct.url in its place. */}}
{{- $xroad = omit $xroad "security_server_url" }}
{{- end }}
{{- if $s.xroadTls.enabled }}
{{- $tls := dict "ca_file" (printf "%s/xroad-tls/ca.crt" $sec) }}
{{- if $s.xroadTls.mutual }}
{{- $_ := set $tls "cert_file" (printf "%s/xroad-tls/tls.crt" $sec) }}
{{- $_ := set $tls "key_file" (printf "%s/xroad-tls/tls.key" $sec) }}
{{- end }}
{{- $_ := set $xroad "tls" $tls }}
{{- end }}
{{- $vtj := merge (dict "password_file" (printf "%s/vtj/password" $sec)) (omit (deepCopy $c.vtj) "direct") }}
{{- $_ := set $vtj "route" (default "xroad" $c.vtj.route) }}
{{- if $direct }}
{{- $tls := dict "cert_file" (printf "%s/dvv-tls/tls.crt" $sec) "key_file" (printf "%s/dvv-tls/tls.key" $sec) }}
{{- if include "xroad-vtj.dvvCaCrt" . }}
{{- $_ := set $tls "ca_file" (printf "%s/dvv-tls/ca.crt" $sec) }}
{{- end }}
{{- $_ := set $vtj "direct" (dict "url" $c.vtj.direct.url "tls" $tls) }}
{{- end }}
{{- $audit := deepCopy $c.audit }}
{{- if eq $c.audit.backend "postgresql" }}
{{- $_ := set $audit "dsn_file" (printf "%s/db/dsn" $sec) }}
{{- else }}
{{- $_ := set $audit "sqlite_path" (printf "%s/audit.sqlite3" $data) }}
{{- end }}
{{- $_ := set $audit "data_key_file" (printf "%s/audit/data.key" $sec) }}
{{- $_ := set $audit "signing_key_file" (printf "%s/audit/signing.key" $sec) }}
{{- $_ := set $audit "signing_cert_file" (printf "%s/audit/signing.crt" $sec) }}
{{- $previous := list }}
{{- if $s.audit.existingSecret }}
{{- range $s.audit.previousDataKeyNames }}
{{- $previous = append $previous (printf "%s/audit/%s" $sec .) }}
{{- end }}
{{- else }}
{{- range $i, $_ := $s.audit.previousDataKeys }}
{{- $previous = append $previous (printf "%s/audit/previous-%d.key" $sec $i) }}
{{- end }}
{{- end }}
{{- $_ := set $audit "previous_data_key_files" $previous }}
{{- $previousCerts := list }}
{{- if $s.audit.existingSecret }}
{{- range $s.audit.previousSigningCertNames }}
{{- $previousCerts = append $previousCerts (printf "%s/audit/%s" $sec .) }}
{{- end }}
{{- else }}
{{- range $i, $_ := $s.audit.previousSigningCerts }}
{{- $previousCerts = append $previousCerts (printf "%s/audit/previous-signing-%d.crt" $sec $i) }}
{{- end }}
{{- end }}
{{- if $previousCerts }}
{{- $_ := set $audit "previous_signing_cert_files" $previousCerts }}
{{- end }}
{{- $_ := set $audit "checkpoint_dir" (printf "%s/checkpoints" $data) }}
{{- $tokenCallers := (include "xroad-vtj.tokenCallers" . | fromYaml).names }}
{{- $callers := list }}
{{- range $raw := .Values.callers }}
{{- $caller := dict "name" $raw.name "roles" $raw.roles "products" (default (list) $raw.products) }}
{{- if has $raw.name $tokenCallers }}
{{- $_ := set $caller "token_sha256_file" (printf "%s/callers/%s" $sec $raw.name) }}
{{- end }}
{{- /* Only the keys given: a key left out keeps the service's default; a null quota switches it off. */}}
{{- range $key := list "cert_subject" "cert_fingerprint_sha256" "reveal_protected_addresses" "purpose_pattern" "end_user_pattern" "non_unique_search" "quotas" }}
{{- if hasKey $raw $key }}
{{- $_ := set $caller $key (deepCopy (get $raw $key)) }}
{{- end }}
{{- end }}
{{- $callers = append $callers $caller }}
{{- end }}
{{- $cfg := dict "server" $server "xroad" $xroad "vtj" $vtj "audit" $audit "callers" $callers }}
{{- if $c.logging }}
{{- $_ := set $cfg "logging" $c.logging }}
{{- end }}
{{- toYaml $cfg }}
{{- end }}

{{/*
Rules that the schema cannot state well, with a message that says what to change. Included by every
template that depends on them, so `helm template` fails before anything is applied.
*/}}
{{- define "xroad-vtj.validate" -}}
{{- $s := .Values.secrets }}
{{- $sqlite := eq .Values.config.audit.backend "sqlite" }}
{{- if and $sqlite (gt (int .Values.replicaCount) 1) }}
{{- fail "config.audit.backend sqlite allows replicaCount 1 only: use postgresql for more replicas" }}
{{- end }}
{{- if and $sqlite .Values.autoscaling.enabled }}
{{- fail "autoscaling needs config.audit.backend postgresql: SQLite is one file on one volume" }}
{{- end }}
{{- if and .Values.autoscaling.enabled (lt (int .Values.autoscaling.maxReplicas) (int .Values.autoscaling.minReplicas)) }}
{{- fail "autoscaling.maxReplicas must be at least autoscaling.minReplicas" }}
{{- end }}
{{- if and .Values.persistence.enabled (not .Values.persistence.existingClaim) (or .Values.autoscaling.enabled (gt (int .Values.replicaCount) 1)) }}
{{- fail "persistence with more than one replica needs persistence.existingClaim (ReadWriteMany), or set persistence.enabled false" }}
{{- end }}
{{- if and (not $s.vtj.existingSecret) (not $s.vtj.password) }}
{{- fail "secrets.vtj: set existingSecret or password" }}
{{- end }}
{{- if and (not $s.audit.existingSecret) (or (not $s.audit.dataKey) (not $s.audit.signingKey) (not $s.audit.signingCert)) }}
{{- fail "secrets.audit: set existingSecret, or dataKey, signingKey and signingCert" }}
{{- end }}
{{- if and (not $sqlite) (not $s.database.existingSecret) (not $s.database.dsn) }}
{{- fail "secrets.database: config.audit.backend postgresql needs existingSecret or dsn" }}
{{- end }}
{{- if and .Values.migrations.enabled $sqlite }}
{{- fail "migrations.enabled needs config.audit.backend postgresql: the service creates its SQLite file itself" }}
{{- end }}
{{- $needsAdmin := or (include "xroad-vtj.migrationsEnabled" .) (and (not $sqlite) .Values.auditMaintenance.enabled .Values.auditMaintenance.retention) }}
{{- if and $needsAdmin (not $s.databaseAdmin.existingSecret) (not $s.databaseAdmin.dsn) }}
{{- fail "secrets.databaseAdmin: the migrate hook and PostgreSQL retention run as the schema owner: set existingSecret (key dsn; may be the database secret) or dsn, or set migrations.enabled false" }}
{{- end }}
{{- if and $s.audit.existingSecret $s.audit.previousSigningCerts }}
{{- fail "secrets.audit.previousSigningCerts goes with a chart-made secret: with existingSecret name its keys in previousSigningCertNames" }}
{{- end }}
{{- if and (not $s.audit.existingSecret) $s.audit.previousSigningCertNames }}
{{- fail "secrets.audit.previousSigningCertNames goes with existingSecret: give the certificates in previousSigningCerts" }}
{{- end }}
{{- if and .Values.auditMaintenance.enabled (not .Values.auditMaintenance.retention) (not .Values.auditMaintenance.verify) }}
{{- fail "auditMaintenance: enable retention, verify or both (or set enabled false)" }}
{{- end }}
{{- $callerNames := list }}
{{- range .Values.callers }}
{{- $callerNames = append $callerNames .name }}
{{- end }}
{{- $certCallers := list }}
{{- range .Values.callers }}
{{- if or .cert_subject .cert_fingerprint_sha256 }}
{{- $certCallers = append $certCallers .name }}
{{- end }}
{{- end }}
{{- range $s.callers.certificateCallersWithToken }}
{{- if not $s.callers.existingSecret }}
{{- fail "secrets.callers.certificateCallersWithToken goes with existingSecret only (a chart-made secret takes the tokens of tokenSha256)" }}
{{- end }}
{{- if not (has . $certCallers) }}
{{- fail (printf "secrets.callers.certificateCallersWithToken names %s, which is no caller with cert_subject or cert_fingerprint_sha256" .) }}
{{- end }}
{{- end }}
{{- if not $s.callers.existingSecret }}
{{- range .Values.callers }}
{{- if not (or (hasKey $s.callers.tokenSha256 .name) .cert_subject .cert_fingerprint_sha256) }}
{{- fail (printf "secrets.callers.tokenSha256 has no entry for caller %s (or set secrets.callers.existingSecret, or give the caller cert_subject or cert_fingerprint_sha256)" .name) }}
{{- end }}
{{- end }}
{{- range $name, $_ := $s.callers.tokenSha256 }}
{{- if not (has $name $callerNames) }}
{{- fail (printf "secrets.callers.tokenSha256 has an entry for %s, which is no caller" $name) }}
{{- end }}
{{- end }}
{{- $hashes := list }}
{{- range $name, $hash := $s.callers.tokenSha256 }}
{{- $hashes = append $hashes (lower $hash) }}
{{- end }}
{{- if ne (len $hashes) (len (uniq $hashes)) }}
{{- fail "secrets.callers.tokenSha256: two callers share one token; give each caller its own" }}
{{- end }}
{{- end }}
{{- range .Values.callers }}
{{- if and (or .cert_subject .cert_fingerprint_sha256) (not (and $s.serverTls.enabled $s.serverTls.clientAuth)) }}
{{- fail (printf "caller %s is matched by its client certificate: set secrets.serverTls.enabled and secrets.serverTls.clientAuth (with caCrt, the CA of the callers' certificates)" .name) }}
{{- end }}
{{- end }}
{{- if and $s.xroadTls.enabled (not $s.xroadTls.existingSecret) }}
{{- if not $s.xroadTls.caCrt }}
{{- fail "secrets.xroadTls: set existingSecret or caCrt" }}
{{- end }}
{{- if and $s.xroadTls.mutual (or (not $s.xroadTls.tlsCrt) (not $s.xroadTls.tlsKey)) }}
{{- fail "secrets.xroadTls.mutual: set existingSecret, or tlsCrt and tlsKey" }}
{{- end }}
{{- end }}
{{- if and $s.serverTls.enabled (not $s.serverTls.existingSecret) }}
{{- if or (not $s.serverTls.tlsCrt) (not $s.serverTls.tlsKey) }}
{{- fail "secrets.serverTls: set existingSecret, or tlsCrt and tlsKey" }}
{{- end }}
{{- if and $s.serverTls.clientAuth (not $s.serverTls.caCrt) }}
{{- fail "secrets.serverTls.clientAuth: set caCrt (the CA of the callers' certificates)" }}
{{- end }}
{{- end }}
{{- $direct := include "xroad-vtj.direct" . }}
{{- $d := $s.dvvTls }}
{{- $vtjDirect := default (dict) .Values.config.vtj.direct }}
{{- if $direct }}
{{- if not (hasPrefix "https://" (default "" $vtjDirect.url)) }}
{{- fail "config.vtj.route direct needs config.vtj.direct.url, DVV's https:// service URL" }}
{{- end }}
{{- if $s.xroadTls.enabled }}
{{- fail "secrets.xroadTls is TLS to a security server, which the direct route has none of: set it disabled (the organisation's certificate for DVV goes in secrets.dvvTls)" }}
{{- end }}
{{- if and (not $d.existingSecret) (or (not $d.tlsCrt) (not $d.tlsKey)) }}
{{- fail "secrets.dvvTls: config.vtj.route direct needs existingSecret (keys tls.crt, tls.key, optional ca.crt), or tlsCrt and tlsKey: the organisation's certificate registered with DVV and its key" }}
{{- end }}
{{- end }}
{{- if hasKey $vtjDirect "tls" }}
{{- fail "config.vtj.direct.tls is set by the chart (the files of secrets.dvvTls): leave it out and fill secrets.dvvTls" }}
{{- end }}
{{- if and $d.existingSecret $d.caCrt }}
{{- fail "secrets.dvvTls.caCrt goes with a chart-made secret: with existingSecret put DVV's CA in its key ca.crt and set existingSecretHasCaCrt" }}
{{- end }}
{{- if and (not $d.existingSecret) $d.existingSecretHasCaCrt }}
{{- fail "secrets.dvvTls.existingSecretHasCaCrt goes with existingSecret: give DVV's CA in caCrt" }}
{{- end }}
{{- if and (not $direct) $s.xroadTls.enabled }}
{{- if not (hasPrefix "https://" .Values.config.xroad.security_server_url) }}
{{- fail "secrets.xroadTls.enabled needs an https:// config.xroad.security_server_url" }}
{{- end }}
{{- end }}
{{- if .Values.networkPolicy.enabled }}
{{- if $direct }}
{{- if empty .Values.networkPolicy.egress.dvv.cidrs }}
{{- fail "networkPolicy.egress.dvv: config.vtj.route direct needs cidrs, the addresses of DVV's direct service" }}
{{- end }}
{{- else }}
{{- $ss := .Values.networkPolicy.egress.securityServer }}
{{- if and (empty $ss.cidrs) (not $ss.namespace) }}
{{- fail "networkPolicy.egress.securityServer: set cidrs or namespace" }}
{{- end }}
{{- end }}
{{- $pg := .Values.networkPolicy.egress.postgresql }}
{{- if and (not $sqlite) (empty $pg.cidrs) (not $pg.namespace) }}
{{- fail "networkPolicy.egress.postgresql: set cidrs or namespace" }}
{{- end }}
{{- end }}
{{- $grace := int .Values.config.server.shutdown_grace_seconds }}
{{- if .Values.terminationGracePeriodSeconds }}
{{- if le (int .Values.terminationGracePeriodSeconds) (add $grace (int .Values.preStopSleepSeconds)) }}
{{- fail "terminationGracePeriodSeconds must exceed config.server.shutdown_grace_seconds + preStopSleepSeconds" }}
{{- end }}
{{- end }}
{{- if eq (int .Values.config.server.port) (int .Values.config.server.metrics_port) }}
{{- fail "config.server.port and config.server.metrics_port must differ" }}
{{- end }}
{{- $names := list }}
{{- range .Values.callers }}
{{- $names = append $names .name }}
{{- end }}
{{- if ne (len $names) (len (uniq $names)) }}
{{- fail "callers: every caller needs its own name" }}
{{- end }}
{{- end }}

{{- define "xroad-vtj.terminationGracePeriodSeconds" -}}
{{- if .Values.terminationGracePeriodSeconds }}
{{- .Values.terminationGracePeriodSeconds }}
{{- else }}
{{- add (int .Values.config.server.shutdown_grace_seconds) (int .Values.preStopSleepSeconds) 10 }}
{{- end }}
{{- end }}

{{/* The pod-level security context every pod of the chart runs with (restricted Pod Security Standard). */}}
{{- define "xroad-vtj.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.podSecurityContext.runAsUser }}
runAsGroup: {{ .Values.podSecurityContext.runAsGroup }}
fsGroup: {{ .Values.podSecurityContext.fsGroup }}
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* The container-level security context of every container the chart writes itself. */}}
{{- define "xroad-vtj.containerSecurityContext" -}}
runAsNonRoot: true
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/*
Whether the schema migration hook runs: migrations.enabled when set, else on for PostgreSQL (the service
refuses to start on a schema it does not know) and off for SQLite (the service makes its own file).
*/}}
{{- define "xroad-vtj.migrationsEnabled" -}}
{{- if kindIs "invalid" .Values.migrations.enabled }}
{{- if eq .Values.config.audit.backend "postgresql" }}true{{ end }}
{{- else if .Values.migrations.enabled }}true
{{- end }}
{{- end }}

{{/* The secret holding the schema owner's DSN (key dsn): existingSecret, or the chart-made hook secret. */}}
{{- define "xroad-vtj.adminDsnSecretName" -}}
{{- default (printf "%s-db-admin" (include "xroad-vtj.fullname" .)) .Values.secrets.databaseAdmin.existingSecret }}
{{- end }}

{{/* Where a secret directory is mounted, and the service's volumes and mounts (shared by the CronJob). */}}
{{- define "xroad-vtj.volumeMounts" -}}
{{- $secretVolumes := (include "xroad-vtj.secretVolumes" . | fromYaml).volumes }}
- name: config
  mountPath: {{ include "xroad-vtj.configDir" . }}
  readOnly: true
{{- range $secretVolumes }}
- name: secret-{{ .name }}
  mountPath: {{ include "xroad-vtj.secretsDir" $ }}/{{ .name }}
  readOnly: true
{{- end }}
- name: data
  mountPath: {{ include "xroad-vtj.dataDir" . }}
- name: tmp
  mountPath: /tmp
{{- with .Values.extraVolumeMounts }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "xroad-vtj.volumes" -}}
{{- $secretVolumes := (include "xroad-vtj.secretVolumes" . | fromYaml).volumes }}
- name: config
  configMap:
    name: {{ include "xroad-vtj.fullname" . }}
    defaultMode: 0444
{{- range $secretVolumes }}
- name: secret-{{ .name }}
  secret:
    secretName: {{ .secretName }}
    # Readable by the pod's group (fsGroup) only.
    defaultMode: 0440
{{- end }}
- name: data
  {{- if .Values.persistence.enabled }}
  persistentVolumeClaim:
    claimName: {{ default (printf "%s-data" (include "xroad-vtj.fullname" .)) .Values.persistence.existingClaim }}
  {{- else }}
  emptyDir: {}
  {{- end }}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- with .Values.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Labels of the pods of the chart's Jobs: never matched by the Deployment's or the Service's selector. */}}
{{- define "xroad-vtj.jobSelectorLabels" -}}
app.kubernetes.io/name: {{ include "xroad-vtj.name" .root }}-{{ .component }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}
