{{/*
Base name of every resource: the release name when it already says kubemedic, else
<release>-kubemedic. With the release name "kubemedic" the resources are named as in
deploy/manifests/.
*/}}
{{- define "kubemedic.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "kubemedic.agent.fullname" -}}
{{- printf "%s-agent" (include "kubemedic.fullname" .) -}}
{{- end -}}

{{- define "kubemedic.diagnose.fullname" -}}
{{- printf "%s-diagnose" (include "kubemedic.fullname" .) -}}
{{- end -}}

{{- define "kubemedic.agent.serviceAccountName" -}}
{{- if .Values.agent.serviceAccount.create -}}
{{- default (include "kubemedic.agent.fullname" .) .Values.agent.serviceAccount.name -}}
{{- else -}}
{{- required "agent.serviceAccount.name is required when agent.serviceAccount.create is false" .Values.agent.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Labels every object carries, besides the selector labels. */}}
{{- define "kubemedic.commonLabels" -}}
app.kubernetes.io/part-of: kubemedic
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{/*
The agent's selector labels. app.kubernetes.io/name=kubemedic-agent is what `kubemedic diagnose`
looks for (--agent-selector); keep it.
*/}}
{{- define "kubemedic.agent.selectorLabels" -}}
app.kubernetes.io/name: kubemedic-agent
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "kubemedic.agent.labels" -}}
{{ include "kubemedic.agent.selectorLabels" . }}
app.kubernetes.io/component: agent
{{ include "kubemedic.commonLabels" . }}
{{- end -}}

{{- define "kubemedic.diagnose.labels" -}}
app.kubernetes.io/name: kubemedic-diagnose
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: diagnose
{{ include "kubemedic.commonLabels" . }}
{{- end -}}

{{- define "kubemedic.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/*
Monitor configs: checks the combination of values and renders the --config.* flags.
*/}}
{{- define "kubemedic.agent.monitorsMounted" -}}
{{- $m := .Values.agent.monitors -}}
{{- if or $m.files $m.existingConfigMap -}}true{{- end -}}
{{- end -}}

{{- define "kubemedic.agent.monitorConfigMap" -}}
{{- $m := .Values.agent.monitors -}}
{{- if $m.existingConfigMap -}}
{{- $m.existingConfigMap -}}
{{- else -}}
{{- printf "%s-config" (include "kubemedic.agent.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "kubemedic.agent.monitorFlags" -}}
{{- $m := .Values.agent.monitors -}}
{{- $listed := concat $m.systemLogMonitors $m.customPluginMonitors $m.systemStatsMonitors -}}
{{- if and $m.files $m.existingConfigMap -}}
{{- fail "agent.monitors: set either files or existingConfigMap, not both" -}}
{{- end -}}
{{- if and (include "kubemedic.agent.monitorsMounted" .) (not $listed) -}}
{{- fail "agent.monitors: name the monitor files in systemLogMonitors, customPluginMonitors or systemStatsMonitors (e.g. systemLogMonitors: [kernel-monitor.json])" -}}
{{- end -}}
{{- if and $listed (not (include "kubemedic.agent.monitorsMounted" .)) -}}
{{- fail "agent.monitors: the listed monitor files need agent.monitors.files or agent.monitors.existingConfigMap" -}}
{{- end -}}
{{- if $m.files -}}
{{- range $listed -}}
{{- if not (hasKey $m.files .) -}}
{{- fail (printf "agent.monitors: %s is listed but not in agent.monitors.files (%s)" . (keys $m.files | sortAlpha | join ", ")) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $flags := list -}}
{{- range $flag, $files := dict "system-log-monitor" $m.systemLogMonitors "custom-plugin-monitor" $m.customPluginMonitors "system-stats-monitor" $m.systemStatsMonitors -}}
{{- if $files -}}
{{- $paths := list -}}
{{- range $files -}}{{- $paths = append $paths (printf "/config/%s" .) -}}{{- end -}}
{{- $flags = append $flags (printf "--config.%s=%s" $flag (join "," $paths)) -}}
{{- end -}}
{{- end -}}
{{- with $flags -}}{{- toYaml . -}}{{- end -}}
{{- end -}}

{{- define "kubemedic.controller.fullname" -}}
{{- printf "%s-controller" (include "kubemedic.fullname" .) -}}
{{- end -}}

{{- define "kubemedic.controller.serviceAccountName" -}}
{{- if .Values.controller.serviceAccount.create -}}
{{- default (include "kubemedic.controller.fullname" .) .Values.controller.serviceAccount.name -}}
{{- else -}}
{{- required "controller.serviceAccount.name is required when controller.serviceAccount.create is false" .Values.controller.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
The controller's selector labels. `kubemedic events|crashes|diagnose` reach it through the
Service <fullname>-controller, port name http.
*/}}
{{- define "kubemedic.controller.selectorLabels" -}}
app.kubernetes.io/name: kubemedic-controller
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "kubemedic.controller.labels" -}}
{{ include "kubemedic.controller.selectorLabels" . }}
app.kubernetes.io/component: controller
{{ include "kubemedic.commonLabels" . }}
{{- end -}}

{{- define "kubemedic.probe.fullname" -}}
{{- printf "%s-probe" (include "kubemedic.fullname" .) -}}
{{- end -}}

{{/*
The network prober's selector labels; its --probe-selector finds the neighbours by them.
*/}}
{{- define "kubemedic.probe.selectorLabels" -}}
app.kubernetes.io/name: kubemedic-probe
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "kubemedic.probe.labels" -}}
{{ include "kubemedic.probe.selectorLabels" . }}
app.kubernetes.io/component: probe
{{ include "kubemedic.commonLabels" . }}
{{- end -}}
