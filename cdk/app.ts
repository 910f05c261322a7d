import { App } from 'aws-cdk-lib';
import { defineApp } from './define-app.ts';

defineApp(new App());
