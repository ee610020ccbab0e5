module kubemedic.local/bench/kubenurse

go 1.26.0

require github.com/postfinance/kubenurse v1.15.3
