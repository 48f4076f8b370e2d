/** `--behind` presets: the hop in front of the server and the rule it imposes. */
export const PRESETS: Readonly<Record<string, { readonly expect: string; readonly source: string }>> = {
  'aws-alb': {
    expect: 'idle-timeout>60s',
    source:
      'AWS ALB idle timeout defaults to 60 s; AWS asks for an application idle timeout larger than it (docs.aws.amazon.com/elasticloadbalancing/latest/application/edit-load-balancer-attributes.html)',
  },
  'nginx-upstream': {
    expect: 'idle-timeout>60s',
    source:
      'nginx upstream keepalive_timeout defaults to 60 s (src/http/modules/ngx_http_upstream_keepalive_module.c, ngx_conf_init_msec_value(kcf->timeout, 60000))',
  },
};
