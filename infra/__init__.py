"""The AWS side of aigw: one CDK stack composed of small constructs (docs/DESIGN.md §1, §2).

`app.py` builds the app from CDK context (`infra.settings`); `infra.stack.GatewayStack`
composes the constructs in `infra.constructs` and holds every grant between them;
`infra.nag` runs cdk-nag's AwsSolutions pack and keeps every acknowledged finding, with
its reason, in one place. Infra imports nothing from the runtime but `aigw.names` and
`aigw.config`.
"""
